"""GGUF v3: a small writer and a small, careful reader (no dependencies beyond NumPy).

GGUF is the file format of llama.cpp, ollama and LM Studio. One file holds everything a
runtime needs: metadata (key -> typed value) and the tensors. Layout (little-endian):

    uint32 magic "GGUF" | uint32 version = 3 | uint64 tensor_count | uint64 kv_count
    kv_count x  (string key, uint32 value_type, value)
    tensor_count x (string name, uint32 n_dims, uint64 dims[n_dims], uint32 ggml_type, uint64 offset)
    zero padding to `general.alignment` (default 32)
    tensor data, each tensor at `offset` (a multiple of the alignment) from the data start

A string is uint64 length + UTF-8 bytes (no NUL). An array is uint32 element type + uint64 count
+ elements. Tensor dims are written in ggml order, the REVERSE of NumPy's: a PyTorch
nn.Linear weight of shape (out, in) is stored as dims [in, out] (ne[0] = the row length).

The reader checks every field against the file size before using it and refuses a bad file
with a GGUFError that says what is wrong and gives a hint. The C loader (csrc/gguf.c) makes
the same checks with the same messages.
"""
import struct

import numpy as np

GGUF_MAGIC = b"GGUF"
GGUF_VERSION = 3
DEFAULT_ALIGNMENT = 32

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
_SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
               FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
_NUMPY_OF = {UINT8: np.uint8, INT8: np.int8, UINT16: np.uint16, INT16: np.int16, UINT32: np.uint32,
             INT32: np.int32, FLOAT32: np.float32, UINT64: np.uint64, INT64: np.int64, FLOAT64: np.float64}
TYPE_NAMES = {UINT8: "uint8", INT8: "int8", UINT16: "uint16", INT16: "int16", UINT32: "uint32",
              INT32: "int32", FLOAT32: "float32", BOOL: "bool", STRING: "string", ARRAY: "array",
              UINT64: "uint64", INT64: "int64", FLOAT64: "float64"}

# ggml tensor types RoboLM uses: id -> (name, elements per block, bytes per block)
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
GGML_TYPES = {GGML_F32: ("F32", 1, 4), GGML_F16: ("F16", 1, 2),
              GGML_Q4_0: ("Q4_0", 32, 18), GGML_Q8_0: ("Q8_0", 32, 34)}
GGML_TYPE_BY_NAME = {v[0]: k for k, v in GGML_TYPES.items()}

MAX_DIMS = 4
MAX_NAME_LEN = 64                  # ggml's GGML_MAX_NAME
MAX_STRING_LEN = 1 << 30           # nothing in a model file comes close; a bigger one is corruption
MAX_ARRAY_NESTING = 4


class GGUFError(ValueError):
    """A GGUF file that this reader refuses: the message says what and where, plus a hint."""


def tensor_nbytes(shape, ggml_type):
    """Bytes of one tensor. shape is NumPy order (last dim = row length = ggml ne[0])."""
    name, block, size = GGML_TYPES[ggml_type]
    n = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    if shape and shape[-1] % block:
        raise GGUFError(f"{name} needs the row length ({shape[-1]}) to be a multiple of {block}")
    return n // block * size


def align(offset, alignment):
    return offset + (alignment - offset % alignment) % alignment


# =============================================================================== writer
class GGUFWriter:
    """Collect metadata and tensors, then write(path). Values are typed explicitly:

        w = GGUFWriter()
        w.add("llama.block_count", 2, UINT32)
        w.add("tokenizer.ggml.tokens", ["a", "b"], ARRAY, STRING)
        w.add_tensor("token_embd.weight", emb)                 # float32 -> F32
        w.add_tensor("blk.0.attn_q.weight", wq, GGML_F16)       # converted to F16
        w.write("model.gguf")
    """

    def __init__(self, alignment=DEFAULT_ALIGNMENT):
        if alignment % 8:
            raise GGUFError(f"alignment {alignment} must be a multiple of 8 (GGUF spec)")
        self.alignment = alignment
        self.kv = {}         # key -> (type, value, elem_type)
        self.tensors = []    # (name, numpy shape, ggml type, raw bytes)
        self.add("general.alignment", alignment, UINT32)

    def add(self, key, value, vtype, elem_type=None):
        if not key.isascii() or not key:
            raise GGUFError(f"metadata key {key!r} must be non-empty ASCII")
        if vtype == ARRAY and elem_type is None:
            raise GGUFError(f"array key {key!r} needs an element type")
        self.kv[key] = (vtype, value, elem_type)

    def add_tensor(self, name, array, ggml_type=None, raw=None, shape=None):
        """Add a float array (converted to ggml_type, F32 by default), or already-packed
        `raw` bytes of a block type (Q8_0/Q4_0) together with the logical `shape`."""
        if len(name.encode()) > MAX_NAME_LEN:
            raise GGUFError(f"tensor name {name!r} is longer than {MAX_NAME_LEN} bytes")
        if any(t[0] == name for t in self.tensors):
            raise GGUFError(f"tensor {name!r} added twice")
        if raw is not None:
            shape = tuple(int(s) for s in shape)
            data = bytes(raw)
        else:
            ggml_type = GGML_F32 if ggml_type is None else ggml_type
            a = np.ascontiguousarray(array)
            shape = a.shape
            if ggml_type == GGML_F32:
                data = a.astype("<f4").tobytes()
            elif ggml_type == GGML_F16:
                data = a.astype("<f2").tobytes()
            else:
                raise GGUFError(f"add_tensor({name!r}): pass block types as raw= bytes (see robolm/quant.py)")
        if not 1 <= len(shape) <= MAX_DIMS:
            raise GGUFError(f"tensor {name!r} has {len(shape)} dims; GGUF allows 1..{MAX_DIMS}")
        if len(data) != tensor_nbytes(shape, ggml_type):
            raise GGUFError(f"tensor {name!r}: {len(data)} bytes, expected {tensor_nbytes(shape, ggml_type)}")
        self.tensors.append((name, shape, ggml_type, data))

    # ---- encoding helpers
    @staticmethod
    def _string(s):
        b = s.encode("utf-8") if isinstance(s, str) else bytes(s)
        return struct.pack("<Q", len(b)) + b

    def _value(self, vtype, value, elem_type=None):
        if vtype == STRING:
            return self._string(value)
        if vtype == ARRAY:
            values = list(value)
            head = struct.pack("<IQ", elem_type, len(values))
            if elem_type == STRING:
                return head + b"".join(self._string(v) for v in values)
            if elem_type in _NUMPY_OF:
                return head + np.asarray(values, dtype=np.dtype(_NUMPY_OF[elem_type]).newbyteorder("<")).tobytes()
            if elem_type == BOOL:
                return head + bytes(1 if v else 0 for v in values)
            raise GGUFError(f"unsupported array element type {elem_type}")
        if vtype in _SCALAR_FMT:
            return struct.pack(_SCALAR_FMT[vtype], value)
        raise GGUFError(f"unsupported value type {vtype}")

    def tobytes(self):
        out = [GGUF_MAGIC, struct.pack("<IQQ", GGUF_VERSION, len(self.tensors), len(self.kv))]
        for key, (vtype, value, elem_type) in self.kv.items():
            out.append(self._string(key) + struct.pack("<I", vtype) + self._value(vtype, value, elem_type))
        offset = 0
        for name, shape, ggml_type, data in self.tensors:
            dims = list(reversed(shape))                       # ggml order: ne[0] = row length
            out.append(self._string(name) + struct.pack(f"<I{len(dims)}QIQ", len(dims), *dims, ggml_type, offset))
            offset = align(offset + len(data), self.alignment)
        head = b"".join(out)
        blob = [head, b"\0" * (align(len(head), self.alignment) - len(head))]
        for name, shape, ggml_type, data in self.tensors:
            blob.append(data)
            blob.append(b"\0" * (align(len(data), self.alignment) - len(data)))
        return b"".join(blob)

    def write(self, path):
        data = self.tobytes()
        with open(path, "wb") as f:
            f.write(data)
        return len(data)


# =============================================================================== reader
class TensorInfo:
    """One tensor's header entry. shape is NumPy order; ne is ggml order (reversed)."""

    def __init__(self, name, ne, ggml_type, offset, nbytes):
        self.name, self.ne, self.ggml_type, self.offset, self.nbytes = name, ne, ggml_type, offset, nbytes
        self.shape = tuple(reversed(ne))
        self.type_name = GGML_TYPES[ggml_type][0]

    def __repr__(self):
        return f"TensorInfo({self.name!r}, shape={self.shape}, {self.type_name}, offset={self.offset})"


class GGUFFile:
    """A parsed GGUF file: .metadata (key -> Python value; arrays as lists or NumPy arrays),
    .value_types (key -> type id), .tensors (name -> TensorInfo), .tensor(name) -> NumPy array."""

    def __init__(self, path=None, data=None):
        if data is None:
            try:
                data = np.memmap(path, dtype=np.uint8, mode="r")
            except (OSError, ValueError) as e:
                raise GGUFError(f"{path}: cannot open ({e}). Hint: check the path; export one with export_gguf.py") from e
        self.path = path or "<bytes>"
        self.buf = memoryview(data).cast("B") if not isinstance(data, np.ndarray) else data
        self.size = len(self.buf)
        self.metadata, self.value_types, self.tensors = {}, {}, {}
        self._pos = 0
        self._parse()

    # ---- bounds-checked primitives
    def _fail(self, what, hint="the file is truncated or corrupt; re-export it with export_gguf.py"):
        raise GGUFError(f"{self.path}: {what} (at byte {self._pos} of {self.size}). Hint: {hint}")

    def _take(self, n, what):
        if n < 0 or n > self.size - self._pos:
            self._fail(f"{what} needs {n} bytes but only {self.size - self._pos} remain")
        b = bytes(self.buf[self._pos:self._pos + n])
        self._pos += n
        return b

    def _scalar(self, vtype, what):
        fmt = _SCALAR_FMT[vtype]
        return struct.unpack(fmt, self._take(struct.calcsize(fmt), what))[0]

    def _string(self, what):
        n = self._scalar(UINT64, what + " length")
        if n > MAX_STRING_LEN:
            self._fail(f"{what} claims a length of {n} bytes")
        raw = self._take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            self._fail(f"{what} is not valid UTF-8")

    def _value(self, vtype, what, depth=0):
        if vtype == STRING:
            return self._string(what)
        if vtype == BOOL:
            b = self._scalar(UINT8, what)
            if b > 1:
                self._fail(f"{what}: bool byte {b} is neither 0 nor 1")
            return bool(b)
        if vtype in _SCALAR_FMT:
            return self._scalar(vtype, what)
        if vtype == ARRAY:
            if depth >= MAX_ARRAY_NESTING:
                self._fail(f"{what}: arrays nested deeper than {MAX_ARRAY_NESTING}")
            etype = self._scalar(UINT32, what + " element type")
            count = self._scalar(UINT64, what + " count")
            if etype not in TYPE_NAMES:
                self._fail(f"{what}: unknown array element type {etype}")
            if count > self.size - self._pos:     # every element takes at least one byte
                self._fail(f"{what} claims {count} elements, more than the bytes left")
            if etype in _NUMPY_OF:
                dt = np.dtype(_NUMPY_OF[etype]).newbyteorder("<")
                raw = self._take(count * dt.itemsize, what)
                return np.frombuffer(raw, dtype=dt).astype(dt.newbyteorder("="))
            return [self._value(etype, f"{what}[{i}]", depth + 1) for i in range(count)]
        self._fail(f"{what}: unknown value type {vtype}", "this file may come from a newer GGUF version")

    # ---- the header
    def _parse(self):
        magic = self._take(4, "magic")
        if magic != GGUF_MAGIC:
            self._pos = 0
            self._fail(f"not a GGUF file (magic {magic!r}, expected b'GGUF')",
                       "pass a .gguf file made by export_gguf.py (a .pt checkpoint must be exported first)")
        self.version = self._scalar(UINT32, "version")
        if self.version != GGUF_VERSION:
            self._fail(f"GGUF version {self.version}; this reader supports version {GGUF_VERSION}",
                       "re-export with export_gguf.py")
        n_tensors = self._scalar(UINT64, "tensor_count")
        n_kv = self._scalar(UINT64, "metadata_kv_count")
        if n_tensors > self.size // 8 or n_kv > self.size // 8:
            self._fail(f"absurd counts: {n_tensors} tensors, {n_kv} metadata keys for a {self.size}-byte file")
        for i in range(n_kv):
            key = self._string(f"metadata key #{i}")
            vtype = self._scalar(UINT32, f"type of {key!r}")
            if key in self.metadata:
                self._fail(f"metadata key {key!r} appears twice")
            self.value_types[key] = vtype
            self.metadata[key] = self._value(vtype, f"value of {key!r}")
        self.alignment = int(self.metadata.get("general.alignment", DEFAULT_ALIGNMENT))
        if self.alignment <= 0 or self.alignment % 8:
            self._fail(f"general.alignment = {self.alignment} is not a positive multiple of 8")
        infos = []
        for i in range(n_tensors):
            name = self._string(f"tensor #{i} name")
            if len(name.encode()) > MAX_NAME_LEN:
                self._fail(f"tensor name {name[:80]!r} is longer than {MAX_NAME_LEN} bytes")
            n_dims = self._scalar(UINT32, f"tensor {name!r} n_dims")
            if not 1 <= n_dims <= MAX_DIMS:
                self._fail(f"tensor {name!r} has {n_dims} dims; GGUF allows 1..{MAX_DIMS}")
            ne = [self._scalar(UINT64, f"tensor {name!r} dim {j}") for j in range(n_dims)]
            ggml_type = self._scalar(UINT32, f"tensor {name!r} type")
            offset = self._scalar(UINT64, f"tensor {name!r} offset")
            if ggml_type not in GGML_TYPES:
                self._fail(f"tensor {name!r} has ggml type {ggml_type}, which RoboLM does not run",
                           "RoboLM runs F32, F16, Q8_0 and Q4_0; re-export with one of those")
            n = 1
            for d in ne:
                if d == 0 or d > (1 << 40) or n * d > (1 << 40):
                    self._fail(f"tensor {name!r} has absurd dims {ne}")
                n *= d
            tname, block, bsize = GGML_TYPES[ggml_type]
            if ne[0] % block:
                self._fail(f"tensor {name!r}: {tname} needs ne[0] ({ne[0]}) to be a multiple of {block}")
            if offset % self.alignment:
                self._fail(f"tensor {name!r} offset {offset} is not a multiple of the alignment {self.alignment}")
            if name in self.tensors or any(t.name == name for t in infos):
                self._fail(f"tensor {name!r} appears twice")
            infos.append(TensorInfo(name, tuple(ne), ggml_type, offset, n // block * bsize))
        self.data_offset = align(self._pos, self.alignment)
        for t in infos:
            end = self.data_offset + t.offset + t.nbytes
            if end > self.size:
                self._pos = self.data_offset
                self._fail(f"tensor {t.name!r} ({t.nbytes} bytes at data offset {t.offset}) runs past the end of the file "
                           f"(needs {end} bytes, file has {self.size})")
            self.tensors[t.name] = t

    # ---- access
    def raw(self, name):
        """The tensor's bytes as a uint8 NumPy view (no copy when the file is memory-mapped)."""
        t = self.tensors[name]
        start = self.data_offset + t.offset
        return np.frombuffer(self.buf, dtype=np.uint8, count=t.nbytes, offset=start) \
            if not isinstance(self.buf, np.ndarray) else self.buf[start:start + t.nbytes]

    def tensor(self, name):
        """The tensor in NumPy order. F32 is a zero-copy view; F16 and block types are
        converted to float32 (block types through robolm/quant.py)."""
        if name not in self.tensors:
            raise GGUFError(f"{self.path}: no tensor named {name!r}. Hint: this file has {sorted(self.tensors)[:8]}...")
        t = self.tensors[name]
        raw = self.raw(name)
        if t.ggml_type == GGML_F32:
            return raw.view("<f4").reshape(t.shape)
        if t.ggml_type == GGML_F16:
            return raw.view("<f2").astype(np.float32).reshape(t.shape)
        try:
            from robolm import quant
        except ImportError as e:
            raise GGUFError(f"{self.path}: tensor {name!r} is {t.type_name}; dequantizing it needs robolm/quant.py") from e
        rows = np.asarray(raw).reshape(*t.shape[:-1], -1)              # (..., row bytes)
        return np.asarray(quant.dequantize(rows, t.ggml_type), dtype=np.float32).reshape(t.shape)

    def get(self, key, default=None):
        return self.metadata.get(key, default)

    def require(self, key):
        if key not in self.metadata:
            raise GGUFError(f"{self.path}: metadata key {key!r} is missing. Hint: re-export with export_gguf.py")
        return self.metadata[key]


def read(path):
    """Parse a GGUF file (memory-mapped). Raises GGUFError on anything malformed."""
    return GGUFFile(path)
