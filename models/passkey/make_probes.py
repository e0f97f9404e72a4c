#!/usr/bin/env python3
"""Probes of copying for `dsv3 eval --prompt-start eos`, in the form of the 1-key drills that
make_passkey_shards.py writes ("Keys: K. Again: K."): data/eval/copy_drill.jsonl (generation:
"Keys: K. Again:" -> K, scored with --answer 'regex:^\\s*(\\d+)') and data/eval/copy_drill_mc.jsonl
(multiple choice: K and three other random keys, each followed by "."; chance 0.25, and any
preference for the key's digits lifts it before whole keys are copied), and
data/eval/copy_drill_gap.jsonl: the generated drill with 1 to 8 sentences of the passkey filler
between the key and "Again:", so the copy is at a varying distance (10 to 100 tokens) as a
passkey's is, and cannot be made from a fixed distance back, as a gapless drill can.
    usage: make_probes.py OUT_DIR
"""
import json
import os
import random
import sys

if len(sys.argv) != 2:
    sys.exit(__doc__)
out = sys.argv[1]
r = random.Random(98)
with open(os.path.join(out, "copy_drill.jsonl"), "w") as f:
    for _ in range(40):
        k = str(r.randint(10000, 99999))
        f.write(json.dumps({"prompt": f"Keys: {k}. Again:", "answer": k}) + "\n")
r = random.Random(97)
with open(os.path.join(out, "copy_drill_mc.jsonl"), "w") as f:
    for _ in range(100):
        ks = [str(r.randint(10000, 99999)) for _ in range(4)]
        a = r.randint(0, 3)
        f.write(json.dumps({"question": f"Keys: {ks[a]}. Again:", "choices": [k + "." for k in ks], "answer": a}) + "\n")
FILLER = ["The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again."]
r = random.Random(96)
with open(os.path.join(out, "copy_drill_gap.jsonl"), "w") as f:
    for _ in range(40):
        k, at = str(r.randint(10000, 99999)), r.randrange(len(FILLER))
        gap = " ".join(FILLER[(at + i) % len(FILLER)] for i in range(r.randint(1, 8)))
        f.write(json.dumps({"prompt": f"Keys: {k}. {gap} Again:", "answer": k}) + "\n")
