"""The CPU default, stage 1 of `make train`: pretrain the robo-cpu-5m shape (5.05M parameters with
vocab 8192) on train.bin for at most 4 minutes on a 2-core laptop CPU; stage 2 is
configs/cpu_default_sft.py (14 minutes), about 18 minutes in all. max_minutes fits the cosine schedule
to the budget after timing the first steps, so the LR still decays to min_lr on a slower machine.
On an idle 2-core Zen 4 (bf16 autocast) the bare loop of this shape runs ~5,700 tokens/s (ANCHORS)."""
out_dir = "out/cpu_default"
mode = "pretrain"
arch = "llama"
dim = 256
n_layers = 4
n_heads = 4
n_kv_heads = 2
hidden_dim = 704
vocab_size = 0            # 0 = take it from data/processed/metadata.json
max_seq_len = 512         # the longest training examples (prompt + program) reach ~460 tokens
dropout = 0.0
batch_size = 8            # 4,096 tokens per step
grad_accum = 1
max_steps = 1500
max_minutes = 4.0
learning_rate = 2e-3
min_lr = 2e-4
warmup_steps = 50
weight_decay = 0.1
grad_clip = 1.0
eval_interval = 100
eval_steps = 10
log_interval = 10
dtype = "auto"            # bf16 autocast where measured faster (this CPU: yes)
compile = False
