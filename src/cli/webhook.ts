export function webhookMain(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  void args;
  void env;
  return Promise.resolve(2);
}
