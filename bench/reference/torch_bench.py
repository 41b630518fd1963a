#!/usr/bin/env python3
"""Times the bench's operations in PyTorch on the same machine, as a reference.

bench/run.ts writes a JSON spec on stdin: {"suite", "device", "threads", "iterations",
"warmup", "cases": [...]} with the same case keys as our suite, and reads back
{"torch": version, "device", "threads", "cases": {key: {"ms": median, "minMs", "n"}}}.
Each case does the same work per iteration as ours, so ours/torch throughput is
torch_ms / ours_ms. Exit code 3 (with a JSON "error") when torch is missing.
"""
import json
import math
import os
import statistics
import sys
import time


def blas_library(torch):
    """The BLAS shared library this process actually mapped (after one matmul)."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.lower() and ".so" in line})
    except OSError:
        return None
    return libs[0] if libs else "none mapped (MKL or built-in kernels)"


def openblas_core(blas):
    """OpenBLAS's own name for the kernel set it picked for this CPU (e.g. Cooperlake), or None."""
    if not blas or "openblas" not in blas.lower() and "blas" not in blas.lower():
        return None
    try:
        import ctypes
        lib = ctypes.CDLL(blas)
        lib.openblas_get_corename.restype = ctypes.c_char_p
        lib.openblas_get_config.restype = ctypes.c_char_p
        return {"core": lib.openblas_get_corename().decode(), "config": lib.openblas_get_config().decode()}
    except (OSError, AttributeError):
        return None


def gpt2_blocks(torch, d, L, mat, dev):
    """L GPT-2 blocks (Conv1D weights [in, out] from mat, LayerNorm 1/0, biases 0) and the final LayerNorm."""
    def ones():
        return torch.ones(d, device=dev)

    def zeros(n=d):
        return torch.zeros(n, device=dev)
    layers = [dict(
        ln1g=ones(), ln1b=zeros(), attnW=mat(d, 3 * d), attnB=zeros(3 * d), projW=mat(d, d), projB=zeros(),
        ln2g=ones(), ln2b=zeros(), fcW=mat(d, 4 * d), fcB=zeros(4 * d), fcProjW=mat(4 * d, d), fcProjB=zeros(),
    ) for _ in range(L)]
    return layers, (ones(), zeros())


def gpt2_forward(torch, F, x, blocks, B, T, H, allowed, sdpa=False, eps=1e-5):
    """A plain GPT-2 stack over x [B*T, d]: pre-LN, HF's eager attention (or sdpa), tanh GELU;
    allowed [B or 1, Tq, Tk] says which keys each query may see."""
    layers, (lnfg, lnfb) = blocks
    d = x.shape[1]
    Dh = d // H
    blocked = ~allowed[:, None]
    for w in layers:
        qkv = torch.addmm(w["attnB"], F.layer_norm(x, (d,), w["ln1g"], w["ln1b"], eps), w["attnW"])
        q, k, v = qkv.view(B, T, 3, H, Dh).permute(2, 0, 3, 1, 4)
        if sdpa:
            a = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed[:, None])
        else:
            s = (q @ k.transpose(-1, -2)) / math.sqrt(Dh)
            a = torch.softmax(s.masked_fill(blocked, float("-inf")), dim=-1) @ v
        x = x + torch.addmm(w["projB"], a.permute(0, 2, 1, 3).reshape(B * T, d), w["projW"])
        f = F.gelu(torch.addmm(w["fcB"], F.layer_norm(x, (d,), w["ln2g"], w["ln2b"], eps), w["fcW"]), approximate="tanh")
        x = x + torch.addmm(w["fcProjB"], f, w["fcProjW"])
    return F.layer_norm(x, (d,), lnfg, lnfb, eps)


def train_step_suite(torch, F, spec, dev, timeit, late, skipped, out):
    """CLLM4Rec's three training steps written the way a PyTorch user writes them (the
    authors' computation): a frozen GPT-2 (eager attention, HF layout), the vocabulary
    extended with trainable user/item tables per side, loss, loss.item(), backward, Adam
    step, zero_grad. The batches are the bench's own (ids, masks, lengths in the spec)."""
    m = spec["model"]
    V, P, d, L, H = m["vocab"], m["positions"], m["d"], m["layers"], m["heads"]
    I, J, lam = spec["users"], spec["items"], spec["lambda"]
    eps = 1e-5
    g = torch.Generator(device="cpu").manual_seed(0)

    def mat(*shape):
        return (0.02 * torch.randn(*shape, generator=g)).to(dev)

    wte, wpe = mat(V, d), mat(P, d)
    blocks = gpt2_blocks(torch, d, L, mat, dev)
    tables = {side: {k: mat(n, d).requires_grad_() for k, n in (("user", I), ("item", J))} for side in ("collab", "content")}
    opts = {side: torch.optim.Adam([t["user"], t["item"]], lr=1e-3) for side, t in tables.items()}
    use_sdpa = [False]

    def embed(side, ids, pos):
        t = tables[side]
        user, item = (ids >= V) & (ids < V + I), ids >= V + I
        e = F.embedding(ids.clamp(max=V - 1), wte)
        eu = F.embedding((ids - V).clamp(0, I - 1), t["user"])
        ei = F.embedding((ids - V - I).clamp(0, J - 1), t["item"])
        return torch.where(user[..., None], eu, torch.where(item[..., None], ei, e)) + F.embedding(pos, wpe)

    def backbone(x, keymask, B, T):
        allowed = torch.ones(T, T, dtype=torch.bool, device=dev).tril()[None] & keymask.view(B, 1, T)  # [B, Tq, Tk]
        return gpt2_forward(torch, F, x, blocks, B, T, H, allowed, sdpa=use_sdpa[0], eps=eps)

    def regularizer(side, ids, B):
        """sum over user/item token occurrences of ||z^side - sg(z^other)||^2, over the batch size"""
        other = "content" if side == "collab" else "collab"
        occ = ids[ids >= V] - V
        users, items = occ[occ < I], occ[occ >= I] - I
        mine = torch.cat([tables[side]["user"][users], tables[side]["item"][items]])
        with torch.no_grad():
            target = torch.cat([tables[other]["user"][users], tables[other]["item"][items]])
        return ((mine - target) ** 2).sum() / B

    def tensor(a, dtype=torch.long):
        return torch.tensor(a, dtype=dtype, device=dev)

    def document_case(side, b):
        B, Tp, Tm = b["size"], b["promptLen"], b["mainLen"]
        T = Tp + Tm
        ids, mask, pos, rows, targets = [], [], [], [], []
        for r in range(B):
            lp, lm = b["promptLengths"][r], b["mainLengths"][r]
            ids += b["promptIds"][r * Tp:(r + 1) * Tp] + b["mainIds"][r * Tm:(r + 1) * Tm]
            mask += b["promptMask"][r * Tp:(r + 1) * Tp] + b["mainMask"][r * Tm:(r + 1) * Tm]
            pos += [t if t < lp else 0 for t in range(Tp)] + [lp + t if t < lm else 0 for t in range(Tm)]
            for t in range(lm):
                rows.append(r * T + lp - 1 if t == 0 else r * T + Tp + t - 1)
                tok = b["mainIds"][r * Tm + t]
                # the collaborative head scores items only, the content head words only
                targets.append((tok - V - I if tok >= V + I else -100) if side == "collab" else (tok if tok < V else -100))
        ids_t, mask_t, pos_t = tensor(ids).view(B, T), tensor(mask).bool().view(B, T), tensor(pos).view(B, T)
        rows_t, targets_t = tensor(rows), tensor(targets)
        reg_ids = ids_t[mask_t] if side == "collab" else tensor(b["promptIds"])[tensor(b["promptMask"]).bool()]
        head = tables["collab"]["item"] if side == "collab" else wte

        def loss():
            h = backbone(embed(side, ids_t, pos_t).view(B * T, d), mask_t, B, T)[rows_t]
            return F.cross_entropy(h @ head.t(), targets_t) + lam * regularizer(side, reg_ids, B)
        return loss

    def rec_case(b, targets):
        B, Tp = b["size"], b["promptLen"]
        ids_t = tensor(b["promptIds"]).view(B, Tp)
        mask_t = tensor(b["promptMask"]).bool().view(B, Tp)
        pos_t = tensor([t if t < b["promptLengths"][r] else 0 for r in range(B) for t in range(Tp)]).view(B, Tp)
        last = tensor([r * Tp + b["promptLengths"][r] - 1 for r in range(B)])
        multi_hot = torch.zeros(B, J, device=dev)
        for r, js in enumerate(targets):
            multi_hot[r, js] = 1
        reg_ids = torch.cat([tensor([V + I + j for js in targets for j in js]), ids_t[mask_t]])

        def loss():
            h = backbone(embed("collab", ids_t, pos_t).view(B * Tp, d), mask_t, B, Tp)[last]
            nll = (-(multi_hot * F.log_softmax(h @ tables["collab"]["item"].t(), dim=1)).sum(1)).mean()
            return nll + lam * regularizer("collab", reg_ids, B)
        return loss

    for c in spec["cases"]:
        if late(c["key"]):
            continue
        mode = c.get("mode", "fp32")
        if mode != "fp32" and dev.type != "cuda":
            skipped.append(c["key"] + " (autocast needs CUDA)")
            continue
        if mode == "bf16-sdpa" and not hasattr(F, "scaled_dot_product_attention"):
            skipped.append(c["key"] + " (no scaled_dot_product_attention in this torch)")
            continue
        use_sdpa[0] = mode == "bf16-sdpa"
        b = spec["batches"][c["batch"]]
        if c["step"] == "rec":
            loss_fn, side = rec_case(b["batch"], b["targets"]), "collab"
        else:
            side = "collab" if c["step"] == "L" else "content"
            loss_fn = document_case(side, b)
        opt = opts[side]

        def step():
            if mode == "fp32":
                loss = loss_fn()
            else:
                with torch.autocast(device_type="cuda", dtype=torch.bfloat16):
                    loss = loss_fn()
            loss.item()  # as ours: every loss is read (progress, NaN check)
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
        out[c["key"]] = timeit(step)


def main():
    spec = json.load(sys.stdin)
    try:
        import torch
        import torch.nn.functional as F
    except Exception as e:  # noqa: BLE001 - any import failure means "no reference"
        print(json.dumps({"error": f"torch not importable: {e}"}))
        sys.exit(3)

    device = spec.get("device", "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        print(json.dumps({"error": "torch has no CUDA device here"}))
        sys.exit(3)
    threads = int(spec.get("threads") or os.cpu_count() or 1)
    torch.set_num_threads(threads)
    blas = blas_library(torch)
    if device == "cpu" and blas and "/blas/libblas.so" in blas and not spec.get("allowReferenceBlas"):
        print(json.dumps({"error": f"torch uses the netlib reference BLAS ({blas}), not a meaningful baseline; "
                                   "point CLLM4REC_BENCH_TORCH_LIBS at an OpenBLAS folder (see bench/README.md)"}))
        sys.exit(3)
    core = openblas_core(blas) if device == "cpu" else None
    started = time.perf_counter()
    budget = float(spec.get("budgetS") or 1e9)
    skipped = []

    def late(key):
        """True (and the key noted) when the time budget is spent: later cases are skipped."""
        if time.perf_counter() - started > budget:
            skipped.append(key)
            return True
        return False
    torch.manual_seed(0)
    dev = torch.device(device)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def timeit(fn, iterations=None, warmup=None):
        iterations = iterations or spec.get("iterations", 3)
        warmup = spec.get("warmup", 1) if warmup is None else warmup
        for _ in range(warmup):
            fn()
        sync()
        samples = []
        for _ in range(iterations):
            t0 = time.perf_counter()
            fn()
            sync()
            samples.append((time.perf_counter() - t0) * 1000)
        return {"ms": statistics.median(samples), "minMs": min(samples), "n": len(samples)}

    out = {}
    suite = spec["suite"]

    if suite == "gemm":
        for c in spec["cases"]:
            M, N, K = c["M"], c["N"], c["K"]
            a = torch.randn(K, M, device=dev) if c["transA"] else torch.randn(M, K, device=dev)
            b = torch.randn(N, K, device=dev) if c["transB"] else torch.randn(K, N, device=dev)
            A = a.t() if c["transA"] else a  # views: BLAS gets the transposed layout, no copy
            B = b.t() if c["transB"] else b
            C = torch.empty(M, N, device=dev)
            if late(c["key"]):
                continue
            out[c["key"]] = timeit(lambda: torch.matmul(A, B, out=C))
            del a, b, C

    elif suite == "multinomial_nll":
        for c in spec["cases"]:
            B, J, d = c["B"], c["J"], c["d"]
            h = torch.randn(B, d, device=dev, requires_grad=True)
            Z = (0.02 * torch.randn(J, d, device=dev)).requires_grad_()
            t = torch.zeros(B, J, device=dev)
            for r in range(B):
                for k in range(c["positives"]):
                    t[r, (r * 7919 + k * 104729) % J] = 1

            def fwd():
                with torch.no_grad():
                    (-(t * F.log_softmax(h @ Z.t(), dim=1)).sum(1)).mean()

            def both():
                loss = (-(t * F.log_softmax(h @ Z.t(), dim=1)).sum(1)).mean()
                loss.backward()
                h.grad.zero_()
                Z.grad.zero_()

            it = c.get("iterations")
            if not late(c["fwdKey"]):
                out[c["fwdKey"]] = timeit(fwd, it)
            if not late(c["bothKey"]):
                out[c["bothKey"]] = timeit(both, it)
            del h, Z, t

    elif suite == "cross_entropy":
        c = spec["cases"][0]
        R, C = c["R"], c["C"]
        logits = (2 * torch.randn(R, C, device=dev)).requires_grad_()
        target = torch.tensor([(i * 7919) % C for i in range(R)], device=dev)

        def fwd():
            with torch.no_grad():
                F.cross_entropy(logits, target)

        def both():
            logits.grad = None
            F.cross_entropy(logits, target).backward()

        out[c["fwdKey"]] = timeit(fwd)
        out[c["bothKey"]] = timeit(both)

    elif suite == "attention":
        for c in spec["cases"]:
            B, H, T, Dh = c["B"], c["H"], c["T"], c["Dh"]
            d = H * Dh
            qkv = torch.randn(B * T, 3 * d, device=dev, requires_grad=True)
            dout = torch.randn(B * T, d, device=dev)
            causal = torch.ones(T, T, dtype=torch.bool, device=dev).triu(1)

            def attn():
                x = qkv.view(B, T, 3, H, Dh).permute(2, 0, 3, 1, 4)  # [3, B, H, T, Dh]
                s = (x[0] @ x[1].transpose(-1, -2)) / math.sqrt(Dh)
                p = torch.softmax(s.masked_fill(causal, float("-inf")), dim=-1)
                return (p @ x[2]).permute(0, 2, 1, 3).reshape(B * T, d)

            def fwd():
                with torch.no_grad():
                    attn()

            def both():
                qkv.grad = None
                attn().backward(dout)

            if not late(c["fwdKey"]):
                out[c["fwdKey"]] = timeit(fwd)
            if not late(c["bothKey"]):
                out[c["bothKey"]] = timeit(both)
            del qkv, dout

    elif suite == "gpt2":
        c = spec["cases"][0]
        d, L, H, B, T = c["d"], c["layers"], c["heads"], c["B"], c["T"]
        eps = 1e-5

        def mat(*shape):
            return (0.02 * torch.randn(*shape, device=dev))

        blocks = gpt2_blocks(torch, d, L, mat, dev)
        causal = torch.ones(T, T, dtype=torch.bool, device=dev).tril()[None]  # every key real
        x0 = (0.1 * torch.randn(B * T, d, device=dev)).requires_grad_()

        def forward(x):
            return gpt2_forward(torch, F, x, blocks, B, T, H, causal, eps=eps)

        def fwd():
            with torch.no_grad():
                forward(x0)

        def both():
            x0.grad = None
            (forward(x0) ** 2).sum().backward()

        out[c["fwdKey"]] = timeit(fwd)
        if c.get("skipBoth"):
            skipped.append(c["bothKey"])
        elif not late(c["bothKey"]):
            out[c["bothKey"]] = timeit(both)

    elif suite == "train_step":
        train_step_suite(torch, F, spec, dev, timeit, late, skipped, out)

    else:
        print(json.dumps({"error": f"unknown suite {suite}"}))
        sys.exit(2)

    print(json.dumps({"torch": torch.__version__, "device": device, "threads": torch.get_num_threads(), "blas": blas,
                      "openblas": core, "cases": out, "skipped": skipped}))


if __name__ == "__main__":
    main()
