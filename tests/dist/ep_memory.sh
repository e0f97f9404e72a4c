#!/usr/bin/env bash
# Each rank maps only its own experts: after a generation under --ep 2, the pages of the other
# rank's experts present in a rank's page tables are at most the pages its own tensors share
# with them (a tensor's first and last page). Model: 16 experts of 256 KiB tensors (dsv3 init).
# usage: ep_memory.sh DSV3 MPIRUN
set -euo pipefail
dsv3=$1 mpirun=$2
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/config.json" <<'JSON'
{"architectures": ["DeepseekV3ForCausalLM"], "model_type": "deepseek_v3", "vocab_size": 512,
 "hidden_size": 256, "intermediate_size": 512, "moe_intermediate_size": 256, "num_hidden_layers": 3,
 "num_attention_heads": 4, "n_shared_experts": 1, "n_routed_experts": 16, "num_experts_per_tok": 4,
 "n_group": 4, "topk_group": 2, "routed_scaling_factor": 2.5, "topk_method": "noaux_tc",
 "scoring_func": "sigmoid", "norm_topk_prob": true, "first_k_dense_replace": 1, "moe_layer_freq": 1,
 "q_lora_rank": 64, "kv_lora_rank": 32, "qk_nope_head_dim": 32, "qk_rope_head_dim": 16, "v_head_dim": 32,
 "hidden_act": "silu", "max_position_embeddings": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
 "rope_scaling": null, "num_nextn_predict_layers": 0, "bos_token_id": 0, "eos_token_id": 1,
 "tie_word_embeddings": false, "torch_dtype": "float32"}
JSON
"$dsv3" init --config "$tmp/config.json" --out "$tmp/model" --save-dtype f32 >/dev/null
timeout "${DSV3_MPI_LAUNCH_TIMEOUT:-60}" "$mpirun" --oversubscribe -np 2 "$dsv3" generate --model "$tmp/model" \
  --tokens 5,9,13,200,7,1,99,42,17,3,300,12,77,150,400,401 --max-new-tokens 4 --ep 2 --stats 2>"$tmp/err" >/dev/null
cat "$tmp/err"
# "other ranks' experts X of Y MiB": 2 MoE layers × 8 other experts × 3 tensors, ≤ 2 pages each.
bound=$(awk 'BEGIN { printf "%.4f", 2 * 8 * 3 * 2 * 4096 / 1048576 }')
lines=$(grep -c "other ranks' experts" "$tmp/err")
[ "$lines" = 2 ] || { echo "expected one residency line per rank, got $lines"; exit 1; }
grep -o "own experts [0-9.]* of [0-9.]* MiB, other ranks' experts [0-9.]*" "$tmp/err" | while read -r _ _ own _ total _ _ _ _ other; do
  awk -v o="$other" -v b="$bound" -v w="$own" 'BEGIN { exit !(o <= b && w > 0) }' ||
    { echo "other ranks' experts resident: $other MiB (bound $bound MiB), own: $own of $total MiB"; exit 1; }
done
echo "each rank mapped only its own experts (bound $bound MiB for the others')"
