"""The CPU default, stage 2 of `make train`: instruction fine-tuning of out/cpu_default/ckpt.pt on
sft_train.bin (loss only on the response tokens, mask == 1) for at most 14 minutes. The model's shape
comes from the checkpoint. sample.py loads the result, out/cpu_default_sft/ckpt.pt.
    python train.py configs/cpu_default.py && python train.py configs/cpu_default_sft.py"""
out_dir = "out/cpu_default_sft"
mode = "sft"
init_from = "out/cpu_default/ckpt.pt"
dropout = 0.0
batch_size = 32           # examples per step, of similar length (length_buckets), padded to the longest (<= 512)
grad_accum = 1
max_steps = 3000
max_minutes = 14.0
learning_rate = 1.5e-3
min_lr = 1e-4
warmup_steps = 30
weight_decay = 0.1
grad_clip = 1.0
eval_interval = 100
eval_steps = 10
log_interval = 10
dtype = "auto"
compile = False           # SFT batches change length; compiling each new length costs more than it saves
