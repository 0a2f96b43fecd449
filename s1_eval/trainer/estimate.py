"""Per-GPU training memory of a decoder-only model: full FT, FSDP2, ZeRO-3 and LoRA.

    rows = estimate(ModelShape.from_config(config_json), Setup(block=32768, batch=1, num_gpus=16))

P is the parameter count, N the GPU count, T = batch x block the tokens of one micro-batch, and
h, i, k, L, V the hidden, MLP, key/value width (kv heads x head dim), layers and vocabulary.

Weights, gradients and optimizer (mixed-precision AdamW, as counted in the ZeRO paper):
  full FT, one GPU   2P (bf16 weights) + 2P (bf16 grads) + 12P (fp32 master copy, m, v) = 16P
  FSDP2 / ZeRO-3     16P / N, plus the largest wrap unit gathered for compute: its bf16
                     weights twice (in use + prefetched) and its bf16 grads once (before the
                     reduce-scatter); the unit is one decoder layer or embeddings + LM head
                     (FSDP with fp32 parameters and bf16 compute holds 4P + 4P + 8P: also 16P)
  LoRA               2P frozen bf16 weights (replicated: one copy per GPU, data parallel),
                     adapter A = L x r x sum(in + out) over the target modules, held in fp32:
                     4A weights + 4A grads + 8A for m and v

Activations per micro-batch, bf16 unless said, attention by SDPA / flash (no T x T matrix):
  one decoder layer keeps (22h + 6k + 8i) bytes a token for backward: two RMSNorms (fp32
    input + bf16 output), q/k/v and their rotary copies, the attention output, the residual,
    and gate, up, act(gate), act(gate) x up and down of the SwiGLU MLP
  gradient checkpointing keeps each layer's input (2h x L a token) and recomputes one layer
    at a time; without it every layer keeps its full (22h + 6k + 8i)
  the loss is TRL's chunked LM head: logits never exist whole; the final norm and an fp32
    hidden-state gradient (10h a token), one 4096-token tile of fp32 logits, and the LM head's
    fp32 weight gradient (4Vh) when it is trained (not under LoRA)
  LoRA adds, per target module and token, the dropout copy of its input (2 x in) and 2r

Not counted: the CUDA context and allocator slack (a few GiB: leave headroom), sequence
packing, CPU offload, and quantized (QLoRA) weights. All figures are upper bounds at the
recipe's block size; real batches shorter than max_length use proportionally less activation.
"""

from __future__ import annotations

from dataclasses import dataclass

GIB = 2**30
TOKEN_TILE = 4096  # TRL's chunked log-prob kernel: tokens per projection tile
VOCAB_TILE = 32768  # and vocabulary entries per tile
ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class ModelShape:
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    tied: bool
    qkv_bias: bool = False
    head_dim: int = 0  # 0: hidden / heads

    @classmethod
    def from_config(cls, config: dict) -> ModelShape:
        """From a Hugging Face config.json (Llama / Qwen2 / Mistral style keys)."""
        return cls(
            hidden=config["hidden_size"],
            intermediate=config["intermediate_size"],
            layers=config["num_hidden_layers"],
            heads=config["num_attention_heads"],
            kv_heads=config.get("num_key_value_heads") or config["num_attention_heads"],
            vocab=config["vocab_size"],
            tied=bool(config.get("tie_word_embeddings", False)),
            # Qwen2 has biases on q, k and v; Llama-style configs say so with attention_bias.
            qkv_bias=config.get("model_type") == "qwen2" or bool(config.get("attention_bias")),
            head_dim=config.get("head_dim") or 0,
        )

    @property
    def q_width(self) -> int:
        return self.heads * (self.head_dim or self.hidden // self.heads)

    @property
    def kv_width(self) -> int:
        return self.kv_heads * (self.head_dim or self.hidden // self.heads)

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection in one decoder layer."""
        h, q, k, i = self.hidden, self.q_width, self.kv_width, self.intermediate
        return {
            "q_proj": (h, q), "k_proj": (h, k), "v_proj": (h, k), "o_proj": (q, h),
            "gate_proj": (h, i), "up_proj": (h, i), "down_proj": (i, h),
        }  # fmt: skip

    @property
    def layer_params(self) -> int:
        linear = sum(n_in * n_out for n_in, n_out in self.linear_shapes().values())
        bias = (self.q_width + 2 * self.kv_width) if self.qkv_bias else 0
        return linear + bias + 2 * self.hidden  # two RMSNorm weights

    @property
    def outer_params(self) -> int:
        """Embeddings, final norm and LM head: FSDP's root wrap unit."""
        heads = 1 if self.tied else 2
        return heads * self.vocab * self.hidden + self.hidden

    @property
    def params(self) -> int:
        return self.layers * self.layer_params + self.outer_params


@dataclass(frozen=True)
class Setup:
    block: int  # the recipe's max_length
    batch: int = 1  # per_device_train_batch_size
    num_gpus: int = 1
    checkpointing: bool = True
    lora_r: int = 16
    lora_modules: tuple[str, ...] = ("q_proj", "v_proj")


@dataclass(frozen=True)
class Row:
    name: str
    weights: float  # bytes
    grads: float
    optimizer: float
    activations: float

    @property
    def total(self) -> float:
        return self.weights + self.grads + self.optimizer + self.activations


def activation_bytes(shape: ModelShape, setup: Setup, lora: bool = False) -> float:
    h, k, i = shape.hidden, shape.kv_width, shape.intermediate
    per_layer = 16 * h + 6 * shape.q_width + 6 * k + 8 * i  # = 22h + 6k + 8i when q_width = h
    if lora:
        shapes = shape.linear_shapes()
        per_layer += sum(2 * shapes[m][0] + 2 * setup.lora_r for m in setup.lora_modules)
    if setup.checkpointing:
        per_token = 2 * h * shape.layers + per_layer
    else:
        per_token = per_layer * shape.layers
    tokens = setup.batch * setup.block
    head = tokens * 10 * h + min(tokens, TOKEN_TILE) * min(shape.vocab, VOCAB_TILE) * 4
    if not lora:
        head += 4 * shape.vocab * h
    return tokens * per_token + head


def adapter_params(shape: ModelShape, setup: Setup) -> int:
    shapes = shape.linear_shapes()
    return shape.layers * setup.lora_r * sum(sum(shapes[m]) for m in setup.lora_modules)


def estimate(shape: ModelShape, setup: Setup) -> list[Row]:
    """One row per strategy, in bytes per GPU."""
    p, n = shape.params, setup.num_gpus
    activations = activation_bytes(shape, setup)
    unit = max(shape.layer_params, shape.outer_params)
    sharded = [
        Row(name, 2 * p / n + 2 * 2 * unit, 2 * p / n + 2 * unit, 12 * p / n, activations)
        for name in (f"FSDP2 x{n}", f"ZeRO-3 x{n}")
    ]
    a = adapter_params(shape, setup)
    lora = Row(
        f"LoRA r{setup.lora_r}", 2 * p + 4 * a, 4 * a, 8 * a, activation_bytes(shape, setup, True)
    )
    return [Row("full FT x1", 2 * p, 2 * p, 12 * p, activations), *sharded, lora]


def table(rows: list[Row], gpu_memory_gib: float) -> str:
    """The rows in GiB, with whether each fits in ``gpu_memory_gib``."""
    lines = [
        f"{'strategy':<14}{'weights':>9}{'grads':>9}{'optim':>9}{'activ':>9}{'total':>9}  fits"
    ]
    for row in rows:
        parts = (row.weights, row.grads, row.optimizer, row.activations, row.total)
        cells = "".join(f"{value / GIB:>9.1f}" for value in parts)
        fits = "yes" if row.total / GIB <= gpu_memory_gib else "no"
        lines.append(f"{row.name:<14}{cells}  {fits}")
    return "\n".join(lines)
