// skaffold's --file-output JSON: reading, merging, errors that name the file, placeholders.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ArtifactsError, parseBuildArtifacts, placeholderOf, readBuildArtifacts } from "../../src/artifacts/build-artifacts.js";
import { parseReference } from "../../src/name/reference.js";

const D = (c: string): string => `sha256:${c.repeat(64)}`;
const SKAFFOLD = JSON.stringify({
  builds: [
    { imageName: "skaffold-example", tag: `registry.example.com/skaffold-example:v1@${D("a")}` },
    { imageName: "gcr.io/proj/worker", tag: "gcr.io/proj/worker:abc123" },
  ],
});

describe("build artifacts", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "krm-digester-artifacts-"));
    await mkdir(join(dir, "out"));
    await writeFile(join(dir, "out", "artifacts.json"), SKAFFOLD);
    await writeFile(join(dir, "ko.json"), JSON.stringify({ builds: [{ imageName: "ko-app", tag: `ghcr.io/org/ko-app:latest@${D("b")}` }] }));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("reads one file or several, relative to the working directory", async () => {
    const artifacts = await readBuildArtifacts(["out/artifacts.json", "ko.json"], dir);
    assert.deepEqual([...artifacts.placeholders.keys()], ["docker.io/library/skaffold-example", "gcr.io/proj/worker", "docker.io/library/ko-app"]);
    assert.equal(artifacts.digests.get("registry.example.com/skaffold-example:v1")?.digest, D("a"));
    assert.equal(artifacts.digests.get("ghcr.io/org/ko-app:latest")?.artifact.file, "ko.json");
    assert.equal(artifacts.digests.has("gcr.io/proj/worker:abc123"), false, "a tag without digest pins nothing by itself");
  });

  it("a placeholder is the bare artifact name, as written or in canonical form; a tagged name is not one", async () => {
    const artifacts = await readBuildArtifacts(["out/artifacts.json"], dir);
    assert.equal(placeholderOf(parseReference("skaffold-example"), artifacts)?.tag, `registry.example.com/skaffold-example:v1@${D("a")}`);
    assert.equal(placeholderOf(parseReference("docker.io/library/skaffold-example"), artifacts)?.imageName, "skaffold-example");
    assert.equal(placeholderOf(parseReference("gcr.io/proj/worker"), artifacts)?.tag, "gcr.io/proj/worker:abc123");
    assert.equal(placeholderOf(parseReference("skaffold-example:v2"), artifacts), undefined);
    assert.equal(placeholderOf(parseReference(`skaffold-example@${D("c")}`), artifacts), undefined);
    assert.equal(placeholderOf(parseReference("other"), artifacts), undefined);
  });

  it("a missing file, a directory, bad JSON and bad entries are errors naming the file and what to do", async () => {
    await assert.rejects(readBuildArtifacts(["missing.json"], dir), (e: Error) => {
      assert.ok(e instanceof ArtifactsError);
      assert.match(e.message, new RegExp(`buildArtifacts: missing\\.json does not exist \\(paths are relative to the working directory, ${dir}\\); write it with skaffold build --file-output=missing\\.json`));
      return true;
    });
    await assert.rejects(readBuildArtifacts(["out"], dir), /buildArtifacts: out is a directory/);
    assert.throws(() => parseBuildArtifacts("{not json", "a.json"), /buildArtifacts: a\.json is not JSON \(.*\); expected what skaffold build --file-output writes/);
    assert.throws(() => parseBuildArtifacts("[]", "a.json"), /a\.json has no "builds" list/);
    assert.throws(() => parseBuildArtifacts('{"builds":[{"imageName":"x","tag":"x:1"},{"imageName":"y"}]}', "a.json"), /a\.json builds\[1\] \(y\) has no tag/);
    assert.throws(() => parseBuildArtifacts('{"builds":[{"tag":"x:1"}]}', "a.json"), /a\.json builds\[0\] has no imageName/);
    assert.throws(() => parseBuildArtifacts('{"builds":[{"imageName":"x","tag":"Bad Tag"}]}', "a.json"), /a\.json builds\[0\] tag is an invalid image reference "Bad Tag"/);
  });

  it("the same artifact built twice with different results is an error naming both files", async () => {
    await writeFile(join(dir, "again.json"), JSON.stringify({ builds: [{ imageName: "skaffold-example", tag: `registry.example.com/skaffold-example:v2@${D("c")}` }] }));
    await assert.rejects(readBuildArtifacts(["out/artifacts.json", "again.json"], dir), /skaffold-example was built twice with different results: .*:v1@.* \(out\/artifacts\.json\) and .*:v2@.* \(again\.json\)/);
    await writeFile(join(dir, "same.json"), SKAFFOLD);
    await readBuildArtifacts(["out/artifacts.json", "same.json"], dir);
  });
});
