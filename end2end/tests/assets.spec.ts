import { expect, test } from "@playwright/test";

// cargo-leptos' hash-files: the name carries an MD5 of the content in unpadded base64url.
const HASHED = /^\/pkg\/csp-dashboard\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/;
const A_YEAR = "public, max-age=31536000, immutable";

test("site files have content-hashed names, come precompressed and are kept a year; pages are not kept", async ({
  request,
}) => {
  const page = await request.get("/");
  expect(page.status()).toBe(200);
  expect(page.headers()["cache-control"]).toBe("no-store");
  const html = await page.text();
  const files = [...new Set([...html.matchAll(/(?:href|src)="(\/pkg\/[^"]+)"/g)].map((m) => m[1]))];
  expect(files.map((file) => file.split(".").pop()).sort()).toEqual(["css", "js", "wasm"]);

  for (const file of files) {
    expect(file).toMatch(HASHED);
    for (const encoding of ["br", "gzip"]) {
      const response = await request.get(file, { headers: { "Accept-Encoding": encoding } });
      expect(response.status(), file).toBe(200);
      expect(response.headers()["content-encoding"], `${file} as ${encoding}`).toBe(encoding);
      // Compressed on the fly, the answer would have no length: this one was compressed at build time.
      expect(Number(response.headers()["content-length"]), `${file} as ${encoding}`).toBeGreaterThan(0);
      expect(response.headers()["cache-control"], file).toBe(A_YEAR);
    }
    const plain = await request.get(file, { headers: { "Accept-Encoding": "identity" } });
    expect(plain.headers()["content-encoding"]).toBeUndefined();
    expect(plain.headers()["cache-control"]).toBe(A_YEAR);
  }

  // A name that is not the current build's is not found, and its answer is not kept.
  const stale = await request.get("/pkg/csp-dashboard.AAAAAAAAAAAAAAAAAAAAAA.wasm");
  expect(stale.status()).toBe(404);
  expect(stale.headers()["cache-control"]).toBe("no-store");
});
