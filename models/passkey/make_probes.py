#!/usr/bin/env python3
"""Probes of copying for `dsv3 eval --prompt-start eos`, in the form of the 1-key drills that
make_passkey_shards.py writes ("Keys: K. Again: K."): data/eval/copy_drill.jsonl (generation:
"Keys: K. Again:" -> K, scored with --answer 'regex:^\\s*(\\d+)') and data/eval/copy_drill_mc.jsonl
(multiple choice: K and three other random keys, each followed by "."; chance 0.25, and any
preference for the key's digits lifts it before whole keys are copied).
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
