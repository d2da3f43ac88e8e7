// The cluster objects that decide which pull secrets pods use, read as the
// kubelet and the ServiceAccount admission controller would: a pod spec's own
// `imagePullSecrets`, or, when it names none, those of its ServiceAccount
// (`serviceAccountName`, the deprecated `serviceAccount`, else `default`).
// They come back as plain API objects to join a package's items, so that
// PullSecrets (src/credentials/pull-secrets.ts) reads them with the same code
// as Secrets written in the package.
import { asRecord, secretNames as secretNamesOf } from "../credentials/pull-secrets.js";
import type { Cluster, KubeObject } from "./api.js";

/**
 * The ServiceAccounts and Secrets of `namespace` that these pod specs use, each once.
 * Objects in `local` (a package's own Secrets and ServiceAccounts of that namespace)
 * are not fetched, and a local ServiceAccount's list of secrets is the one followed.
 * Objects that do not exist are left out, as the kubelet ignores them; any other
 * failure is the Cluster's ClusterError.
 */
export async function pullSecretObjects(
  cluster: Cluster,
  namespace: string,
  podSpecs: readonly unknown[],
  local: readonly KubeObject[] = [],
): Promise<KubeObject[]> {
  const localNamed = (kind: string, name: string): KubeObject | undefined =>
    local.find((o) => o.apiVersion === "v1" && o.kind === kind && o.metadata?.name === name && (o.metadata.namespace ?? namespace) === namespace);

  const accounts = new Map<string, Promise<KubeObject | undefined>>();
  const account = (name: string): Promise<KubeObject | undefined> => {
    let found = accounts.get(name);
    if (!found) {
      const mine = localNamed("ServiceAccount", name);
      found = mine ? Promise.resolve(mine) : cluster.serviceAccount(namespace, name);
      accounts.set(name, found);
    }
    return found;
  };

  const secretNames = new Set<string>();
  const fetchedAccounts = new Map<string, KubeObject>();
  await Promise.all(
    podSpecs.map(async (raw) => {
      const spec = asRecord(raw);
      const own = secretNamesOf(spec.imagePullSecrets);
      if (own.length > 0) {
        for (const n of own) secretNames.add(n);
        return;
      }
      const named = [spec.serviceAccountName, spec.serviceAccount].find((n): n is string => typeof n === "string" && n !== "");
      const name = named ?? "default";
      const sa = await account(name);
      if (!sa) return;
      if (!localNamed("ServiceAccount", name)) fetchedAccounts.set(name, sa);
      for (const n of secretNamesOf(sa.imagePullSecrets)) secretNames.add(n);
    }),
  );

  const wanted = [...secretNames].filter((n) => !localNamed("Secret", n));
  const secrets = await Promise.all(wanted.map((n) => cluster.secret(namespace, n)));
  return [
    ...[...fetchedAccounts.values()].map((o) => withIdentity(o, "ServiceAccount", namespace)),
    ...secrets.flatMap((o) => (o ? [withIdentity(o, "Secret", namespace)] : [])),
  ];
}

/** The API serves full objects; make sure kind, apiVersion and namespace are there for PullSecrets' index. */
function withIdentity(object: KubeObject, kind: string, namespace: string): KubeObject {
  return { ...object, apiVersion: "v1", kind, metadata: { ...object.metadata, namespace: object.metadata?.namespace ?? namespace } };
}
