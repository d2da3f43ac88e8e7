// Table-driven tests of the image reference parser against distribution's
// reference grammar (reference.go / regexp.go / normalize.go, go-digest).
import { describe, test } from "node:test";
import assert from "node:assert/strict";

import {
  DEFAULT_TAG,
  DOCKER_HUB,
  DOCKER_HUB_API,
  InvalidReferenceError,
  apiHost,
  isLoopback,
  parseReference,
  repositoryKey,
  tagOf,
} from "../../src/name/reference.js";
import type { ImageReference } from "../../src/name/reference.js";
import { quote } from "../../src/quote.js";

const HEX64 = "0123456789abcdef".repeat(4);
const SHA256 = `sha256:${HEX64}`;
const SHA384 = `sha384:${"0123456789abcdef".repeat(6)}`;
const SHA512 = `sha512:${"f".repeat(128)}`;

/** A readable test name for inputs that may be long or contain control characters. */
function label(input: string): string {
  const shown = JSON.stringify(input);
  return shown.length > 70 ? `${shown.slice(0, 40)}…(${input.length} chars)` : shown;
}

interface ValidCase {
  readonly input: string;
  readonly registry: string;
  readonly repository: string;
  readonly tag?: string;
  readonly digest?: string;
}

function checkValid(cases: readonly ValidCase[]): void {
  for (const c of cases) {
    void test(label(c.input), () => {
      const ref = parseReference(c.input);
      const want: ImageReference = {
        original: c.input,
        registry: c.registry,
        repository: c.repository,
        tag: c.tag,
        digest: c.digest,
      };
      assert.deepEqual(ref, want);
    });
  }
}

interface ErrorCase {
  readonly input: string;
  /** What the error message must say about the problem. */
  readonly reason: RegExp;
}

function checkInvalid(cases: readonly ErrorCase[]): void {
  for (const c of cases) {
    void test(label(c.input), () => {
      assert.throws(
        () => parseReference(c.input),
        (err: unknown) => {
          assert.ok(err instanceof InvalidReferenceError, `expected InvalidReferenceError, got ${String(err)}`);
          assert.equal(err.name, "InvalidReferenceError");
          assert.equal(err.reference, c.input);
          assert.match(err.reason, c.reason);
          // The value is quoted whole up to 256 characters, longer ones cut short with their length (src/quote.ts).
          assert.ok(err.message.startsWith(`invalid image reference ${quote(c.input)}: `), err.message);
          assert.ok(err.message.endsWith(err.reason), err.message);
          return true;
        },
      );
    });
  }
}

void describe("parseReference: Docker Hub defaults", () => {
  checkValid([
    { input: "nginx", registry: "docker.io", repository: "library/nginx" },
    { input: "nginx:1.25", registry: "docker.io", repository: "library/nginx", tag: "1.25" },
    { input: "user/app", registry: "docker.io", repository: "user/app" },
    { input: "user/app:v2", registry: "docker.io", repository: "user/app", tag: "v2" },
    { input: "library/nginx", registry: "docker.io", repository: "library/nginx" },
    { input: "docker.io/nginx", registry: "docker.io", repository: "library/nginx" },
    { input: "docker.io/library/nginx", registry: "docker.io", repository: "library/nginx" },
    { input: "docker.io/user/app", registry: "docker.io", repository: "user/app" },
    { input: "docker.io/library/foo/bar", registry: "docker.io", repository: "library/foo/bar" },
    { input: "store/foo/bar", registry: "docker.io", repository: "store/foo/bar" },
    // The legacy index host is canonicalised to docker.io, including "library/".
    { input: "index.docker.io/x", registry: "docker.io", repository: "library/x" },
    { input: "index.docker.io/user/app:1", registry: "docker.io", repository: "user/app", tag: "1" },
    // Only docker.io and index.docker.io are Docker Hub aliases; other hosts are kept as written.
    { input: "registry-1.docker.io/nginx", registry: "registry-1.docker.io", repository: "nginx" },
    { input: "docker.io:443/nginx", registry: "docker.io:443", repository: "nginx" },
    // A first segment without ".", ":" or upper case is a namespace, not a host.
    { input: "test_com/foo", registry: "docker.io", repository: "test_com/foo" },
    { input: "registry/app", registry: "docker.io", repository: "registry/app" },
    // A single segment is never a host (distribution's "familiar name" fast path).
    { input: "example.com", registry: "docker.io", repository: "library/example.com" },
    { input: "localhost", registry: "docker.io", repository: "library/localhost" },
    { input: "localhost:5000", registry: "docker.io", repository: "library/localhost", tag: "5000" },
    { input: "192.168.1.1:5000", registry: "docker.io", repository: "library/192.168.1.1", tag: "5000" },
    { input: "foo_bar.com:8080", registry: "docker.io", repository: "library/foo_bar.com", tag: "8080" },
    // 64 hex characters are an image ID on their own, but a valid name with a host, or when shorter.
    { input: `docker.io/${HEX64}`, registry: "docker.io", repository: `library/${HEX64}` },
    { input: HEX64.slice(1), registry: "docker.io", repository: `library/${HEX64.slice(1)}` },
  ]);
});

void describe("parseReference: registries and hosts", () => {
  checkValid([
    { input: "gcr.io/project/app:v1", registry: "gcr.io", repository: "project/app", tag: "v1" },
    { input: "quay.io/org/app", registry: "quay.io", repository: "org/app" },
    { input: "ghcr.io/app", registry: "ghcr.io", repository: "app" },
    { input: "registry.example.com:5000/team/app:1.0", registry: "registry.example.com:5000", repository: "team/app", tag: "1.0" },
    { input: "my-registry:5000/app", registry: "my-registry:5000", repository: "app" },
    { input: "test-com:8080/foo", registry: "test-com:8080", repository: "foo" },
    { input: "xn--n3h.com:18080/foo", registry: "xn--n3h.com:18080", repository: "foo" },
    { input: "xn--n3h.com/myimage:xn--n3h.com", registry: "xn--n3h.com", repository: "myimage", tag: "xn--n3h.com" },
    { input: "b.gcr.io/test.example.com/my-app:test.example.com", registry: "b.gcr.io", repository: "test.example.com/my-app", tag: "test.example.com" },
    { input: "sub-dom1.foo.com/bar/baz/quux", registry: "sub-dom1.foo.com", repository: "bar/baz/quux" },
    { input: "a.b.c.d.example.com/x/y/z/w:t", registry: "a.b.c.d.example.com", repository: "x/y/z/w", tag: "t" },
    { input: "1.dkr.ecr.us-east-1.amazonaws.com/app", registry: "1.dkr.ecr.us-east-1.amazonaws.com", repository: "app" },
    // localhost is always a host when followed by "/", and gets no "library/".
    { input: "localhost/app", registry: "localhost", repository: "app" },
    { input: "localhost:5000/app", registry: "localhost:5000", repository: "app" },
    { input: "localhost:5000/team/app:dev", registry: "localhost:5000", repository: "team/app", tag: "dev" },
    // Port bounds.
    { input: "localhost:1/app", registry: "localhost:1", repository: "app" },
    { input: "localhost:65535/app", registry: "localhost:65535", repository: "app" },
    // IPv4.
    { input: "127.0.0.1:5000/app", registry: "127.0.0.1:5000", repository: "app" },
    { input: "10.0.0.1/app", registry: "10.0.0.1", repository: "app" },
    { input: "192.168.1.1:5000/repo:5050", registry: "192.168.1.1:5000", repository: "repo", tag: "5050" },
    // IPv6, in brackets, with or without a port.
    { input: "[::1]:5000/app", registry: "[::1]:5000", repository: "app" },
    { input: "[::1]/app", registry: "[::1]", repository: "app" },
    { input: "[2001:db8::]:5000/repo", registry: "[2001:db8::]:5000", repository: "repo" },
    { input: "[2001:db8:1:2:3:4:5:6]/repo:tag", registry: "[2001:db8:1:2:3:4:5:6]", repository: "repo", tag: "tag" },
    { input: "[FC00::1]/app", registry: "[FC00::1]", repository: "app" },
    { input: `[2001:db8::1]:5000/repo:tag@${SHA256}`, registry: "[2001:db8::1]:5000", repository: "repo", tag: "tag", digest: SHA256 },
    // Upper case makes the first segment a host (paths are lower case only).
    { input: "Foo/bar", registry: "Foo", repository: "bar" },
    { input: "EXAMPLE.COM/app", registry: "EXAMPLE.COM", repository: "app" },
    { input: "Docker.io/nginx", registry: "Docker.io", repository: "nginx" },
  ]);
});

void describe("parseReference: path components and separators", () => {
  const valid = ["a", "d", "a1", "0", "a.b", "a_b", "a__b", "a-b", "a--b", "a---b", "a.b_c__d-e--f", "ubuntu-12.04-base", "1a2b"];
  checkValid(valid.map((c) => ({ input: `user/${c}`, registry: DOCKER_HUB, repository: `user/${c}` })));
  checkValid([
    { input: "jess/t", registry: "docker.io", repository: "jess/t" },
    { input: "docker---rules/docker", registry: "docker.io", repository: "docker---rules/docker" },
    { input: "dock__er/docker", registry: "docker.io", repository: "dock__er/docker" },
  ]);
  const invalid = ["a___b", "a..b", "a_.b", "a-.b", "a._b", "a.-b", "a_-b", "-a", "a-", "_a", "a_", ".a", "a.", "a$b", "a+b", "a~b"];
  checkInvalid(invalid.map((c) => ({ input: `user/${c}`, reason: new RegExp(`path segment ${JSON.stringify(c).replace(/[$+.]/g, "\\$&")} is not valid`) })));
  checkInvalid([
    { input: "____/____", reason: /path segment "____" is not valid/ },
    { input: "-docker", reason: /path segment "-docker" is not valid/ },
    { input: "-docker/docker", reason: /path segment "-docker" is not valid/ },
    { input: "docker-/docker", reason: /path segment "docker-" is not valid/ },
    { input: "aa/asdf$$^/aa", reason: /path segment "asdf\$\$\^" is not valid/ },
    { input: "gcr.io/project/a___b:v1", reason: /path segment "a___b" is not valid/ },
  ]);
});

void describe("parseReference: upper case", () => {
  checkValid([{ input: "lowercase:Uppercase", registry: "docker.io", repository: "library/lowercase", tag: "Uppercase" }]);
  checkInvalid([
    { input: "Nginx", reason: /lower case/ },
    { input: "Uppercase:tag", reason: /lower case/ },
    { input: "docker/Docker", reason: /lower case/ },
    { input: "docker.io/docker/Docker", reason: /lower case/ },
    { input: "gcr.io/Project/app", reason: /lower case/ },
    { input: "localhost:5000/Uppercase/lowercase:tag", reason: /lower case/ },
    { input: "Foo/Bar", reason: /lower case/ },
  ]);
});

void describe("parseReference: tags", () => {
  const tag128 = `v${"x".repeat(127)}`;
  checkValid([
    { input: "nginx:latest", registry: "docker.io", repository: "library/nginx", tag: "latest" },
    { input: "nginx:1.25.3-alpine3.18", registry: "docker.io", repository: "library/nginx", tag: "1.25.3-alpine3.18" },
    { input: "nginx:_private", registry: "docker.io", repository: "library/nginx", tag: "_private" },
    { input: "nginx:V1_2.3-RC", registry: "docker.io", repository: "library/nginx", tag: "V1_2.3-RC" },
    { input: "nginx:0", registry: "docker.io", repository: "library/nginx", tag: "0" },
    { input: `nginx:${tag128}`, registry: "docker.io", repository: "library/nginx", tag: tag128 },
    { input: `gcr.io/p/app:${tag128}`, registry: "gcr.io", repository: "p/app", tag: tag128 },
  ]);
  checkInvalid([
    { input: `nginx:${tag128}x`, reason: /tag "vx{128}" is not valid/ },
    { input: "nginx:", reason: /the tag after ':' is empty/ },
    { input: "localhost:5000/app:", reason: /the tag after ':' is empty/ },
    { input: "nginx:.hidden", reason: /tag "\.hidden" is not valid/ },
    { input: "nginx:-rc1", reason: /tag "-rc1" is not valid/ },
    { input: "nginx:v1+build", reason: /tag "v1\+build" is not valid/ },
    { input: "nginx:v1!", reason: /tag "v1!" is not valid/ },
    { input: "nginx:1.0:2", reason: /path segment "nginx:1\.0" is not valid/ },
  ]);
});

void describe("parseReference: digests", () => {
  checkValid([
    { input: `nginx@${SHA256}`, registry: "docker.io", repository: "library/nginx", digest: SHA256 },
    { input: `nginx:1.25@${SHA256}`, registry: "docker.io", repository: "library/nginx", tag: "1.25", digest: SHA256 },
    { input: `localhost:5000/app@${SHA256}`, registry: "localhost:5000", repository: "app", digest: SHA256 },
    { input: `localhost:5000/app:dev@${SHA256}`, registry: "localhost:5000", repository: "app", tag: "dev", digest: SHA256 },
    { input: `[::1]:5000/app@${SHA256}`, registry: "[::1]:5000", repository: "app", digest: SHA256 },
    { input: `quay.io/org/app@${SHA384}`, registry: "quay.io", repository: "org/app", digest: SHA384 },
    { input: `xn--7o8h.com/myimage:xn--7o8h.com@${SHA512}`, registry: "xn--7o8h.com", repository: "myimage", tag: "xn--7o8h.com", digest: SHA512 },
  ]);
  checkInvalid([
    { input: `nginx@${SHA256.slice(0, -1)}`, reason: /sha256 digest has 64 hex characters, this one has 63/ },
    { input: `nginx@${SHA256}0`, reason: /sha256 digest has 64 hex characters, this one has 65/ },
    { input: `nginx@sha256:${"f".repeat(34)}`, reason: /this one has 34/ },
    { input: `nginx@sha512:${HEX64}`, reason: /sha512 digest has 128 hex characters, this one has 64/ },
    { input: `nginx@sha256:${HEX64.toUpperCase()}`, reason: /lower-case hex/ },
    { input: `nginx@sha256:${"g".repeat(64)}`, reason: /is not of the form algorithm:hex/ },
    { input: "nginx@sha256:abc", reason: /is not of the form algorithm:hex/ },
    { input: "nginx@", reason: /digest "" is not of the form algorithm:hex/ },
    { input: "nginx@sha256", reason: /is not of the form algorithm:hex/ },
    { input: `nginx@${HEX64}`, reason: /is not of the form algorithm:hex/ },
    { input: `nginx@${SHA256}@${SHA256}`, reason: /is not of the form algorithm:hex/ },
    { input: `nginx@${SHA256}:tag`, reason: /is not of the form algorithm:hex/ },
    // go-digest only knows sha256/sha384/sha512, case-sensitively.
    { input: `validname@invaliddigest:${"f".repeat(64)}`, reason: /algorithm "invaliddigest" is unsupported/ },
    { input: `nginx@md5:${"f".repeat(32)}`, reason: /algorithm "md5" is unsupported/ },
    { input: `nginx@SHA256:${HEX64}`, reason: /algorithm "SHA256" is unsupported/ },
    { input: `nginx@constructor:${HEX64}`, reason: /algorithm "constructor" is unsupported/ },
    { input: `@${SHA256}`, reason: /the repository name is empty/ },
  ]);
});

void describe("parseReference: empty, white space, slashes", () => {
  checkInvalid([
    { input: "", reason: /it is empty/ },
    { input: " nginx", reason: /leading or trailing white space/ },
    { input: "nginx ", reason: /leading or trailing white space/ },
    { input: "\tnginx", reason: /leading or trailing white space/ },
    { input: "nginx\n", reason: /leading or trailing white space/ },
    { input: " ", reason: /leading or trailing white space/ },
    { input: "ngi nx", reason: /contains white space/ },
    { input: "nginx: latest", reason: /contains white space/ },
    { input: "gcr.io/a\tb", reason: /contains white space/ },
    { input: ":justtag", reason: /the repository name is empty/ },
    { input: "gcr.io/", reason: /the repository name is empty/ },
    { input: "localhost:5000/:tag", reason: /the repository name is empty/ },
    { input: "nginx/", reason: /empty segment/ },
    { input: "gcr.io/app/", reason: /empty segment/ },
    { input: "/app", reason: /empty segment/ },
    { input: "a//b", reason: /empty segment/ },
    { input: "gcr.io//app", reason: /empty segment/ },
    { input: "docker.io/docker///docker", reason: /empty segment/ },
    { input: "docker///docker", reason: /empty segment/ },
  ]);
});

void describe("parseReference: name length (repository path, at most 255)", () => {
  checkValid([
    // "library/" counts: 8 + 247 = 255.
    { input: "a".repeat(247), registry: "docker.io", repository: `library/${"a".repeat(247)}` },
    // The host does not count.
    { input: `example.com/${"a".repeat(255)}:tag`, registry: "example.com", repository: "a".repeat(255), tag: "tag" },
    { input: `user/${"a".repeat(250)}`, registry: "docker.io", repository: `user/${"a".repeat(250)}` },
    { input: `${"a/".repeat(127)}a`, registry: "docker.io", repository: `${"a/".repeat(127)}a` },
  ]);
  checkInvalid([
    { input: "a".repeat(248), reason: /longer than 255 characters \(256\)/ },
    { input: `example.com/${"a".repeat(256)}`, reason: /longer than 255 characters \(256\)/ },
    { input: `domain/${"a".repeat(256)}:tag`, reason: /longer than 255 characters/ },
    { input: `user/${"a".repeat(251)}`, reason: /longer than 255 characters/ },
    { input: `${"a/".repeat(128)}a:tag`, reason: /longer than 255 characters/ },
  ]);
});

void describe("parseReference: invalid hosts and ports", () => {
  checkInvalid([
    { input: "localhost:0/app", reason: /port "0" is not a valid port number/ },
    { input: "localhost:65536/app", reason: /port "65536" is not a valid port number/ },
    { input: "localhost:99999/app", reason: /port "99999" is not a valid port number/ },
    { input: "gcr.io:/app", reason: /port "" is not a valid port number/ },
    { input: "gcr.io:abc/app", reason: /port "abc" is not a valid port number/ },
    { input: "gcr.io:-1/app", reason: /port "-1" is not a valid port number/ },
    { input: "gcr.io:80:80/app", reason: /port "80:80" is not a valid port number/ },
    { input: "[::1]:/app", reason: /port "" is not a valid port number/ },
    { input: "[::1]:70000/app", reason: /port "70000" is not a valid port number/ },
    { input: "https://github.com/docker/docker", reason: /port "" is not a valid port number/ },
    { input: "fc00::1:5000/debian", reason: /port ":1:5000" is not a valid port number/ },
    { input: "-bad.com/app", reason: /registry host "-bad\.com" is not a valid host name/ },
    { input: "bad-.com/app", reason: /registry host "bad-\.com" is not a valid host name/ },
    { input: "a..b.com/app", reason: /registry host "a\.\.b\.com" is not a valid host name/ },
    { input: ".com/app", reason: /registry host "\.com" is not a valid host name/ },
    { input: ":5000/app", reason: /registry host ":5000" is not a valid host name/ },
    // distribution's Parse would read this as a path with no domain; we reject the unusable host.
    { input: "foo_bar.com/app", reason: /registry host "foo_bar\.com" is not a valid host name/ },
    { input: "Foo_Bar/app", reason: /registry host "Foo_Bar" is not a valid host name/ },
    // IPv6: hex and colons only, no zone ids, no embedded IPv4.
    { input: "[fe80::1%eth0]:5000/repo", reason: /not a valid IPv6 address/ },
    { input: "[::ffff:127.0.0.1]/app", reason: /not a valid IPv6 address/ },
    { input: "[2001:db8:3:4::192.0.2.33]:5000/debian", reason: /not a valid IPv6 address/ },
    { input: "[g::1]/app", reason: /not a valid IPv6 address/ },
    { input: "[]:5000/app", reason: /not a valid IPv6 address/ },
    { input: "[::1/app", reason: /unclosed '\['/ },
    { input: "[::1]x/app", reason: /registry host "\[::1\]x" is not valid/ },
    // A bracketed host alone is a (bad) repository name, not a registry.
    { input: "[2001:db8::1]", reason: /path segment/ },
    { input: "[2001:db8::1]:5000", reason: /path segment/ },
    { input: "[2001:db8::1]:tag", reason: /path segment/ },
  ]);
});

void describe("parseReference: image IDs", () => {
  checkInvalid([{ input: HEX64, reason: /64-character hex string is an image ID/ }]);
});

void test("equivalent spellings of a Docker Hub image share one repository key", () => {
  const spellings = ["nginx", "nginx:latest", "library/nginx", "docker.io/nginx", "docker.io/library/nginx", "index.docker.io/nginx", "index.docker.io/library/nginx:1"];
  for (const s of spellings) assert.equal(repositoryKey(parseReference(s)), "docker.io/library/nginx", s);
});

void describe("repositoryKey", () => {
  const cases: readonly (readonly [string, string])[] = [
    ["nginx", "docker.io/library/nginx"],
    ["user/app:1", "docker.io/user/app"],
    ["gcr.io/project/app:v1", "gcr.io/project/app"],
    [`localhost:5000/team/app@${SHA256}`, "localhost:5000/team/app"],
    ["[::1]:5000/app", "[::1]:5000/app"],
  ];
  for (const [input, key] of cases) void test(label(input), () => assert.equal(repositoryKey(parseReference(input)), key));
  void test("accepts a bare registry/repository pair", () => {
    assert.equal(repositoryKey({ registry: "quay.io", repository: "org/app" }), "quay.io/org/app");
  });
});

void describe("tagOf", () => {
  const cases: readonly (readonly [string, string])[] = [
    ["nginx", DEFAULT_TAG],
    ["nginx:1.25", "1.25"],
    [`nginx@${SHA256}`, DEFAULT_TAG],
    [`nginx:stable@${SHA256}`, "stable"],
    ["localhost:5000/app", DEFAULT_TAG],
    ["localhost:5000/app:5001", "5001"],
  ];
  for (const [input, tag] of cases) void test(label(input), () => assert.equal(tagOf(parseReference(input)), tag));
  void test("the default tag is latest", () => assert.equal(DEFAULT_TAG, "latest"));
});

void describe("apiHost", () => {
  const cases: readonly (readonly [string, string])[] = [
    [DOCKER_HUB, DOCKER_HUB_API],
    ["gcr.io", "gcr.io"],
    ["localhost:5000", "localhost:5000"],
    ["[::1]:5000", "[::1]:5000"],
    ["registry-1.docker.io", "registry-1.docker.io"],
  ];
  for (const [registry, host] of cases) void test(registry, () => assert.equal(apiHost(registry), host));
  void test("Docker Hub references, however spelled, go to registry-1.docker.io", () => {
    for (const s of ["nginx", "user/app", "docker.io/nginx", "index.docker.io/x"]) {
      assert.equal(apiHost(parseReference(s).registry), "registry-1.docker.io", s);
    }
  });
});

void describe("isLoopback", () => {
  const cases: readonly (readonly [string, boolean])[] = [
    ["localhost", true],
    ["localhost:5000", true],
    ["127.0.0.1", true],
    ["127.0.0.1:5000", true],
    ["127.10.20.30:80", true],
    ["[::1]", true],
    ["[::1]:5000", true],
    ["docker.io", false],
    ["gcr.io", false],
    ["10.0.0.1:5000", false],
    ["128.0.0.1", false],
    ["0.0.0.0:5000", false],
    ["[::2]:5000", false],
    ["[2001:db8::1]", false],
    // Names that merely start like a loopback host are not loopback.
    ["localhost.example.com", false],
    ["localhost.example.com:5000", false],
    ["127.0.0.1.nip.io", false],
    ["127.0.0.1.nip.io:5000", false],
    ["mylocalhost:5000", false],
  ];
  for (const [registry, want] of cases) void test(registry, () => assert.equal(isLoopback(registry), want));
  void test("on parsed references", () => {
    assert.equal(isLoopback(parseReference("localhost:5000/app").registry), true);
    assert.equal(isLoopback(parseReference("[::1]:5000/app").registry), true);
    assert.equal(isLoopback(parseReference("127.0.0.1:5000/app").registry), true);
    assert.equal(isLoopback(parseReference("localhost").registry), false);
    assert.equal(isLoopback(parseReference("nginx").registry), false);
  });
});
