"""The seed's tiny tier (robo-tiny-9m: 9.44M parameters with vocab 8192), as a Python config.
About 3,000-3,700 tokens/s on 2 CPU cores (bf16), so a useful run is an hour; a GPU makes it minutes.
    python train.py configs/tiny.py --max_minutes=60"""
out_dir = "out/tiny"
arch = "llama"
dim = 384
n_layers = 4
n_heads = 6
n_kv_heads = 2
hidden_dim = 1024
vocab_size = 8192
max_seq_len = 512
batch_size = 8            # 4,096 tokens per step
max_steps = 5000
learning_rate = 1e-3
min_lr = 1e-4
warmup_steps = 200
eval_interval = 250
eval_steps = 20
log_interval = 10
dtype = "auto"
