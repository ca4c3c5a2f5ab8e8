// In-browser check of a disclosure (issue 15), for browsers with WebCrypto
// Ed25519: the checkpoint's signature with the district's key, every entry
// of the chain segment hashing to its hash and linking to the one before,
// the segment ending at the checkpoint's head, and every entry the page
// lists being in the segment with the hash it shows. Recomputing the
// figures from the entries is `sanzi verify-public`'s job. Loaded from the
// member itself (CSP script-src 'self'); the page reads fine without it.
"use strict";

(function () {
  const button = document.getElementById("verify");
  const out = document.getElementById("verify-out");
  if (!button || !out) return;
  if (!(window.crypto && crypto.subtle)) {
    out.textContent = "此浏览器不支持 WebCrypto，请用 sanzi verify-public 验证。";
    return;
  }
  button.hidden = false;

  const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const get = async (path) => {
    const r = await fetch(path, { credentials: "omit" });
    if (!r.ok) throw new Error(path + "：" + r.status);
    return r.json();
  };

  // fields reads a protobuf message: field number → [wire type, value].
  function fields(b) {
    const m = new Map();
    let i = 0;
    const varint = () => {
      let v = 0, mul = 1, x;
      do {
        if (i >= b.length) throw new Error("条目编码不完整");
        x = b[i++];
        v += (x & 0x7f) * mul;
        mul *= 128;
      } while (x & 0x80);
      return v;
    };
    while (i < b.length) {
      const key = varint(), n = Math.floor(key / 8), t = key & 7;
      if (t === 0) m.set(n, varint());
      else if (t === 2) { const l = varint(); m.set(n, b.subarray(i, i + l)); i += l; }
      else if (t === 1) i += 8;
      else if (t === 5) i += 4;
      else throw new Error("条目编码无法识别");
    }
    return m;
  }

  // refs are the entries the page lists: {id, seq, hash} anywhere in it.
  function refs(x, acc) {
    if (x && typeof x === "object") {
      if (typeof x.id === "string" && typeof x.seq === "number" && typeof x.hash === "string") acc.push(x);
      for (const v of Object.values(x)) refs(v, acc);
    }
    return acc;
  }

  async function check() {
    const key = await get("/public/v1/key");
    const pub = await crypto.subtle.importKey("raw", unb64(key.publicKey), { name: "Ed25519" }, false, ["verify"]);
    const data = await get(button.dataset.json);
    const d = data.disclosure, p = data.proof;
    if (!p.segment) throw new Error(p.note || "本区未公开链段");
    const cp = await get(p.checkpointUrl);
    const text = new TextEncoder().encode(cp.statement);
    if (!(await crypto.subtle.verify({ name: "Ed25519" }, pub, unb64(cp.signature), text))) {
      throw new Error("第 " + cp.number + " 号检查点的签名与区公钥不符");
    }
    const line = cp.statement.split("\n").find((l) => l.startsWith(d.village + " "));
    const [, headSeq, headHash] = line ? line.split(" ") : [];
    if (Number(headSeq) !== p.toSeq) throw new Error("检查点中本村的序号与链段不符");
    const hashes = new Map();
    let prev = null, seq = p.fromSeq, next = p.segment;
    while (next) {
      const seg = await get(next);
      for (const e of seg.entries) {
        const f = fields(unb64(e)), body = f.get(1), hash = hex(f.get(2));
        const sum = hex(new Uint8Array(await crypto.subtle.digest("SHA-256", body)));
        if (sum !== hash) throw new Error("第 " + seq + " 号条目的内容与哈希不符（条目被改动）");
        const b = fields(body);
        if (b.get(2) !== seq) throw new Error("链段中缺少第 " + seq + " 号条目");
        if (prev !== null && hex(b.get(3)) !== prev) throw new Error("第 " + seq + " 号条目没有接上前一条");
        hashes.set(seq, hash);
        prev = hash;
        seq++;
      }
      next = seg.next;
    }
    if (prev !== headHash) throw new Error("链段的最后一条与检查点签署的哈希不符");
    const listed = refs(d, []);
    for (const r of listed) {
      if (hashes.get(r.seq) !== r.hash) throw new Error("页面所列 " + r.id + " 的哈希与链中不符");
    }
    return "浏览器验证通过：第 " + cp.number + " 号检查点签名有效；链段第 " + p.fromSeq + "–" + p.toSeq + " 号共 " + hashes.size +
      " 条哈希与链接正确；页面所列 " + listed.length + " 条均在链中。金额的重新计算请用 sanzi verify-public。";
  }

  button.addEventListener("click", async () => {
    button.disabled = true;
    out.textContent = "验证中……";
    try {
      out.textContent = await check();
      out.className = "ok";
    } catch (e) {
      out.textContent = "验证失败：" + e.message;
      out.className = "bad";
    } finally {
      button.disabled = false;
    }
  });
})();
