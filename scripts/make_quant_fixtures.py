#!/usr/bin/env python3
"""Writes tests/data/quant/{gptq_act_order,awq}.safetensors: a 4-bit matrix W [16, 64] (group
32) packed in the GPTQ layout (asymmetric zeros stored minus one, act-order g_idx) and in AWQ's
GEMM layout, each with `expected` F32 [16, 64]: W dequantized here, straight from the formats'
published descriptions, independently of dsv3's C++ (plain Python, no dependencies).
Also tests/data/quant/w8a8.safetensors: compressed-tensors int-quantized (llm-compressor's
W8A8): int8 codes [16, 64], a BF16 weight_scale [16, 1] per output channel, a zero
weight_zero_point, and `expected` = code x scale; and gptq8_{sym,act_order}.safetensors: 8-bit
GPTQ (symmetric in natural order; zero points with act-order), with `expected`.
    usage: scripts/make_quant_fixtures.py [OUT_DIR]
"""
import json
import random
import struct
import sys

OUT, IN, GROUP = 16, 64, 32
GROUPS = IN // GROUP


def f16(x):
    return struct.unpack("<e", struct.pack("<e", x))[0]


def write_safetensors(path, tensors):  # name -> (dtype, shape, bytes)
    header, offset, blobs = {}, 0, []
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def i32s(v):
    return struct.pack("<%di" % len(v), *[x - (1 << 32) if x >= 1 << 31 else x for x in v])


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/data/quant"
    rng = random.Random(11)
    q = [[rng.randrange(16) for _ in range(IN)] for _ in range(OUT)]          # q[o][i]
    zero = [[rng.randrange(16) for _ in range(OUT)] for _ in range(GROUPS)]   # zero[g][o]
    scale = [[f16(rng.uniform(0.01, 0.1)) for _ in range(OUT)] for _ in range(GROUPS)]
    scales = struct.pack("<%de" % (GROUPS * OUT), *[s for row in scale for s in row])

    # GPTQ, act-order: input i belongs to group g_idx[i]; each group has GROUP inputs.
    order = list(range(IN))
    rng.shuffle(order)
    g_idx = [0] * IN
    for pos, i in enumerate(order):
        g_idx[i] = pos // GROUP
    qweight = [0] * (IN // 8 * OUT)  # [in/8, out]: input i at bits 4 * (i % 8)
    for i in range(IN):
        for o in range(OUT):
            qweight[(i // 8) * OUT + o] |= q[o][i] << (4 * (i % 8))
    qzeros = [0] * (GROUPS * OUT // 8)  # [groups, out/8]: output o at bits 4 * (o % 8), zero - 1
    for g in range(GROUPS):
        for o in range(OUT):
            qzeros[g * (OUT // 8) + o // 8] |= ((zero[g][o] - 1) & 15) << (4 * (o % 8))
    # A stored zero of 0 means zero 1 ("gptq" format): keep the expected values consistent with it.
    zg = [[((zero[g][o] - 1) & 15) + 1 for o in range(OUT)] for g in range(GROUPS)]
    expected = [scale[g_idx[i]][o] * (q[o][i] - zg[g_idx[i]][o]) for o in range(OUT) for i in range(IN)]
    write_safetensors(out_dir + "/gptq_act_order.safetensors", {
        "w.qweight": ("I32", [IN // 8, OUT], i32s(qweight)),
        "w.qzeros": ("I32", [GROUPS, OUT // 8], i32s(qzeros)),
        "w.scales": ("F16", [GROUPS, OUT], scales),
        "w.g_idx": ("I32", [IN], i32s(g_idx)),
        "expected": ("F32", [OUT, IN], struct.pack("<%df" % len(expected), *expected)),
    })

    # AWQ GEMM: [in, out/8] words; nibble k of word j holds output 8j + ORDER[k].
    ORDER = [0, 2, 4, 6, 1, 3, 5, 7]
    aq = [0] * (IN * OUT // 8)
    for i in range(IN):
        for j in range(OUT // 8):
            for k in range(8):
                aq[i * (OUT // 8) + j] |= q[8 * j + ORDER[k]][i] << (4 * k)
    az = [0] * (GROUPS * OUT // 8)
    for g in range(GROUPS):
        for j in range(OUT // 8):
            for k in range(8):
                az[g * (OUT // 8) + j] |= zero[g][8 * j + ORDER[k]] << (4 * k)
    expected = [scale[i // GROUP][o] * (q[o][i] - zero[i // GROUP][o]) for o in range(OUT) for i in range(IN)]
    write_safetensors(out_dir + "/awq.safetensors", {
        "w.qweight": ("I32", [IN, OUT // 8], i32s(aq)),
        "w.qzeros": ("I32", [GROUPS, OUT // 8], i32s(az)),
        "w.scales": ("F16", [GROUPS, OUT], scales),
        "expected": ("F32", [OUT, IN], struct.pack("<%df" % len(expected), *expected)),
    })

    write_w8a8(out_dir)
    write_gptq8(out_dir)


def write_w8a8(out_dir):
    rng = random.Random(12)
    q = [[rng.randrange(-127, 128) for _ in range(IN)] for _ in range(OUT)]
    # BF16 scales: a float32 whose low 16 bits are zero is exactly its BF16.
    bits = [struct.unpack("<I", struct.pack("<f", rng.uniform(0.001, 0.02)))[0] >> 16 for _ in range(OUT)]
    scale = [struct.unpack("<f", struct.pack("<I", b << 16))[0] for b in bits]
    expected = [q[o][i] * scale[o] for o in range(OUT) for i in range(IN)]
    write_safetensors(out_dir + "/w8a8.safetensors", {
        "w.weight": ("I8", [OUT, IN], struct.pack("<%db" % (OUT * IN), *[x for row in q for x in row])),
        "w.weight_scale": ("BF16", [OUT, 1], struct.pack("<%dH" % OUT, *bits)),
        "w.weight_zero_point": ("I8", [OUT, 1], bytes(OUT)),
        "expected": ("F32", [OUT, IN], struct.pack("<%df" % len(expected), *expected)),
    })


def write_gptq8(out_dir):
    """8-bit GPTQ, W [16, 64], group 32: values 4 per int32 ([in/4, out], input i at bits
    8 * (i % 4)), zeros minus one 4 per int32 ([groups, out/4]). gptq8_sym: every zero 128, g_idx
    in natural order; gptq8_act_order: random zeros and a shuffled g_idx."""
    rng = random.Random(13)
    for name, sym in (("gptq8_sym", True), ("gptq8_act_order", False)):
        q = [[rng.randrange(256) for _ in range(IN)] for _ in range(OUT)]
        zero = [[128 if sym else rng.randrange(1, 256) for _ in range(OUT)] for _ in range(GROUPS)]
        scale = [[f16(rng.uniform(0.001, 0.01)) for _ in range(OUT)] for _ in range(GROUPS)]
        order = list(range(IN))
        if not sym:
            rng.shuffle(order)
        g_idx = [0] * IN
        for pos, i in enumerate(order):
            g_idx[i] = pos // GROUP
        qweight = [0] * (IN // 4 * OUT)
        for i in range(IN):
            for o in range(OUT):
                qweight[(i // 4) * OUT + o] |= q[o][i] << (8 * (i % 4))
        qzeros = [0] * (GROUPS * OUT // 4)
        for g in range(GROUPS):
            for o in range(OUT):
                qzeros[g * (OUT // 4) + o // 4] |= (zero[g][o] - 1) << (8 * (o % 4))
        expected = [scale[g_idx[i]][o] * (q[o][i] - zero[g_idx[i]][o]) for o in range(OUT) for i in range(IN)]
        write_safetensors(out_dir + "/" + name + ".safetensors", {
            "w.qweight": ("I32", [IN // 4, OUT], i32s(qweight)),
            "w.qzeros": ("I32", [GROUPS, OUT // 4], i32s(qzeros)),
            "w.scales": ("F16", [GROUPS, OUT], struct.pack("<%de" % (GROUPS * OUT), *[s for row in scale for s in row])),
            "w.g_idx": ("I32", [IN], i32s(g_idx)),
            "expected": ("F32", [OUT, IN], struct.pack("<%df" % len(expected), *expected)),
        })


main()
