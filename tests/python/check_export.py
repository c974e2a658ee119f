"""Loads a nascent TorchScript export in Python and compares its logits with nascent's.

usage: check_export.py MODEL.pt EXPECTED.json
EXPECTED.json: {"shape": [...], "tokens": bool, "input": [...], "logits": [...], "parameters": [...]}
Prints the largest absolute difference; exits 1 when it exceeds 1e-5 or anything else is off.
"""
import json
import sys

import torch

model_path, expected_path = sys.argv[1], sys.argv[2]
with open(expected_path) as f:
    expected = json.load(f)
extra = {"nascent.json": ""}
module = torch.jit.load(model_path, _extra_files=extra)
info = json.loads(extra["nascent.json"])
dtype = torch.int64 if expected["tokens"] else torch.float32
x = torch.tensor(expected["input"], dtype=dtype).reshape(expected["shape"])
with torch.no_grad():
    y = module(x)
want = torch.tensor(expected["logits"], dtype=torch.float64).reshape(y.shape)
difference = (y.double() - want).abs().max().item()
names = sorted(name for name, _ in module.named_parameters())
problems = []
if difference > 1e-5:
    problems.append(f"logits differ by {difference}")
if names != sorted(expected["parameters"]):
    problems.append("parameter names differ from nascent's")
if info.get("arch") != expected["arch"]:
    problems.append("nascent.json names another architecture")
print(difference)
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
