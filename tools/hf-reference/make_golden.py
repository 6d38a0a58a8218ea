"""Writes the golden checkpoints core/src/test/resources/golden/<name>/ that HfGoldenTest loads.

Each is a small random LlamaForCausalLM saved by transformers itself (save_pretrained, safetensors),
with the logits transformers computes for fixed token ids beside it:
  expected.json                 input ids [B, T], the versions that computed them, what the case covers
  expected_logits.safetensors   "logits" [B, T, V], float32

Weights are drawn larger than transformers' init (std 0.02 gives near-uniform attention and logits
that hardly depend on rotary embeddings or norm weights), and the norm weights are not left at 1, so
a wrong rope_theta, rms_norm_eps, rotary layout or head tying moves the logits far past the tolerance.
The script checks that itself: every case must move by more than 100x the test's tolerance when
rope_theta or rms_norm_eps is changed.

Run from the repository root:
  python3 -m venv tools/hf-reference/.venv
  tools/hf-reference/.venv/bin/pip install -r tools/hf-reference/requirements.txt
  tools/hf-reference/.venv/bin/python tools/hf-reference/make_golden.py
"""

import json
import pathlib
import shutil

import safetensors.torch
import torch
import transformers
from transformers import LlamaConfig, LlamaForCausalLM

OUT = pathlib.Path(__file__).resolve().parents[2] / "core/src/test/resources/golden"
TOLERANCE = 1e-4  # HfGoldenTest's, for every case

# name -> (config overrides, saved dtype, what it covers)
CASES = {
    "gqa-untied": (dict(num_attention_heads=4, num_key_value_heads=2, tie_word_embeddings=False,
                        rope_theta=500000.0, rms_norm_eps=1e-5),
                   torch.float32, "grouped-query attention (4 query heads, 2 kv), separate lm_head, Llama 3's rope_theta"),
    "mha-tied": (dict(num_attention_heads=4, num_key_value_heads=4, tie_word_embeddings=True,
                      rope_theta=10000.0, rms_norm_eps=1e-6),
                 torch.float32, "multi-head attention, lm_head tied to the embedding (not stored), rms_norm_eps 1e-6"),
    "mqa-tied-bf16": (dict(num_attention_heads=8, num_key_value_heads=1, tie_word_embeddings=True,
                           rope_theta=1000000.0, rms_norm_eps=1e-5, hidden_size=64),
                      torch.bfloat16, "multi-query attention (8 query heads, head_dim 8), tied, rope_theta 1e6, weights stored as bfloat16"),
}

BASE = dict(vocab_size=96, hidden_size=48, intermediate_size=80, num_hidden_layers=2, max_position_embeddings=64,
            bos_token_id=1, eos_token_id=2, pad_token_id=None)


def build(name, overrides, seed):
    torch.manual_seed(seed)
    config = LlamaConfig(**{**BASE, **overrides})
    model = LlamaForCausalLM(config).eval()
    with torch.no_grad():
        for pname, p in model.named_parameters():
            if pname.endswith("norm.weight"):
                p.copy_(1.0 + 0.3 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
    return model


def logits_of(model, ids):
    with torch.no_grad():
        return model(input_ids=ids).logits.float()


def main():
    ids_gen = torch.Generator().manual_seed(7)
    if OUT.exists():
        shutil.rmtree(OUT)
    for seed, (name, (overrides, dtype, covers)) in enumerate(CASES.items()):
        model = build(name, overrides, seed)
        vocab = model.config.vocab_size
        ids = torch.randint(0, vocab, (2, 40), generator=ids_gen)
        folder = OUT / name
        model.to(dtype).save_pretrained(folder, safe_serialization=True)
        # The reference is what transformers computes from the saved files, read back in float32 (the
        # project computes in float32, bf16 weights widened exactly), so one tolerance fits every case.
        saved = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        expected = logits_of(saved, ids)
        for key, value in (("rope_theta", saved.config.rope_parameters["rope_theta"] * 2),
                           ("rms_norm_eps", 0.1)):
            broken = LlamaForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
            if key == "rope_theta":
                broken.config.rope_parameters["rope_theta"] = value
                broken.model.rotary_emb = type(broken.model.rotary_emb)(broken.config)
            else:
                for module in broken.modules():
                    if hasattr(module, "variance_epsilon"):
                        module.variance_epsilon = value
            moved = (logits_of(broken, ids) - expected).abs().max().item()
            assert moved > 100 * TOLERANCE, f"{name}: {key} {value} moves the logits only {moved}"
            print(f"{name}: {key} -> {value} moves the logits by {moved:.3g}")
        if dtype != torch.float32:
            # for scale only: how far transformers' own forward in the saved dtype is from the reference
            native = logits_of(LlamaForCausalLM.from_pretrained(folder, dtype=dtype).eval(), ids)
            print(f"{name}: a {dtype} forward is {(native - expected).abs().max().item():.3g} from float32")
        safetensors.torch.save_file({"logits": expected.contiguous()}, folder / "expected_logits.safetensors")
        (folder / "expected.json").write_text(json.dumps({
            "covers": covers,
            "saved_dtype": str(dtype).removeprefix("torch."),
            "input_ids": ids.tolist(),
            "computed_by": {"transformers": transformers.__version__, "torch": torch.__version__,
                            "dtype": "float32"},
        }, indent=1) + "\n")
        size = sum(f.stat().st_size for f in folder.iterdir())
        print(f"{name}: {size // 1024} KB, |logits| max {expected.abs().max().item():.3g}")


if __name__ == "__main__":
    main()
