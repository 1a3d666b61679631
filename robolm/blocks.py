"""Code to blocks: turn a robot program into a Blockly workspace a learner can open.

    from robolm.blocks import code_to_blocks
    result = code_to_blocks(code)
    result.workspace      # Blockly's JSON serialization ({"blocks": ..., "variables": ...})
    result.ok             # False when some lines have no block
    result.unsupported    # [Unsupported(line, source, reason)]: "not representable as blocks"

What becomes a block (read with `ast`; the program is never run):
- `robot.<method>(...)` for every block in blocks/*.json (statement and value blocks),
  with the arguments in the block's fields (numbers in range, text, dropdown, checkbox)
  or value inputs;
- `while ...:`, `for v in range(a, b, step)` (integer constants), `for v in a_list:`, `if/elif/else`,
  `break`, `continue`, `pass`, `print(one value)`, `name = value`, `name += value`;
- `time.sleep(s)` and `time.sleep_ms(ms)` become the firmware's `robot.wait(s)` and
  `robot.wait_ms(ms)` blocks (the firmware implements them with time.sleep_ms);
- values: numbers, text, True/False/None, variables, + - * / ** %, unary minus,
  comparisons, and/or/not, lists, `random.randint(a, b)`, `str(x)` and `"text" + str(x) + ...`;
- functions without default/keyword parameters (`def main():`, `def look(limit): ... return x`)
  and their calls; `bot = Robot()` is read as `robot = Robot()`.
`from robot import Robot`, `robot = Robot()`, `import time` and `import random` need no block (Blockly's
generator writes the first two itself). Anything else (machine.Pin, try/except, f-strings,
print(a, b), //, min/max, a variable in a block's number field, ...) is listed in `unsupported`
with its line, and left out of the workspace.

`normalize(code)` defines when two programs "match" (tests/test_blocks.py): equal Python
syntax trees after the rewrites listed in its docstring.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass, field

from robolm import registry

ROBOT = "robot"
SKIP_IMPORTS = {"robot", "time", "random"}          # modules whose import needs no block
SLEEP_BLOCKS = {"sleep": "wait", "sleep_ms": "wait_ms"}
BINOPS = {ast.Add: "ADD", ast.Sub: "MINUS", ast.Mult: "MULTIPLY", ast.Div: "DIVIDE", ast.Pow: "POWER"}
CMPOPS = {ast.Eq: "EQ", ast.NotEq: "NEQ", ast.Lt: "LT", ast.LtE: "LTE", ast.Gt: "GT", ast.GtE: "GTE"}


@dataclass
class Unsupported:
    line: int
    source: str
    reason: str

    def __str__(self):
        return f"line {self.line}: not representable as blocks: {self.source.strip()}  ({self.reason})"


@dataclass
class BlocksResult:
    workspace: dict
    unsupported: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsupported

    def message(self) -> str:
        if self.ok:
            return "every line is a block"
        return "\n".join(str(u) for u in self.unsupported)


class _NoBlock(Exception):
    """This statement or value has no block (the message says why)."""


@functools.lru_cache(maxsize=1)
def _blocks() -> dict:
    """{method: (block definition, [(param name, registry param), ...])} from the block registry."""
    out = {}
    for e in registry.block_registry():
        out[e["block_name"]] = (e["block"], list(e["parameters"].items()))
    return out


def _rename_robot(tree):
    """`bot = Robot()` -> `robot = Robot()` everywhere (the block editor's object is always `robot`)."""
    names = {n.targets[0].id for n in tree.body if isinstance(n, ast.Assign) and len(n.targets) == 1
             and isinstance(n.targets[0], ast.Name) and isinstance(n.value, ast.Call)
             and getattr(n.value.func, "id", "") == "Robot"}
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    if len(names) == 1 and ROBOT not in used:
        alias = names.pop()
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and n.id == alias:
                n.id = ROBOT
    return tree


def _is_robot_call(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == ROBOT)


def _is_time_sleep(node) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "time"
            and node.func.attr in SLEEP_BLOCKS)


def _number(node):
    """The value of a numeric constant (also -5), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        v = _number(node.operand)
        return None if v is None else -v
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value
    return None


def _bind(method: str, call: ast.Call) -> list:
    """The call's arguments in parameter order, defaults filled in: [(name, param, ast value)]."""
    _, params = _blocks()[method]
    names = [n for n, _ in params]
    if any(isinstance(a, ast.Starred) for a in call.args) or any(k.arg is None for k in call.keywords):
        raise _NoBlock("*args/**kwargs")
    if len(call.args) > len(names):
        raise _NoBlock(f"robot.{method} takes at most {len(names)} arguments")
    given = dict(zip(names, call.args))
    for k in call.keywords:
        if k.arg not in names or k.arg in given:
            raise _NoBlock(f"robot.{method} has no parameter {k.arg!r} (or it is given twice)")
        given[k.arg] = k.value
    out = []
    for name, p in params:
        if name in given:
            out.append((name, p, given[name]))
        elif p["required"]:
            raise _NoBlock(f"robot.{method} needs {name}")
        else:
            out.append((name, p, ast.Constant(p["default"])))
    return out


class _Builder:
    def __init__(self, lines):
        self.lines = lines
        self.variables = {}                       # name -> id
        self.unsupported = []
        self.count = 0
        self.functions = {}                       # name -> ast.FunctionDef (top level)

    def _id(self, kind):
        self.count += 1
        return f"{kind}_{self.count}"

    def var(self, name):
        if name == ROBOT:
            raise _NoBlock("'robot' is the firmware object, not a variable")
        return {"id": self.variables.setdefault(name, f"var_{name}")}

    # ------------------------------------------------------------------ values
    def value(self, node) -> dict:
        num = _number(node)
        if num is not None:
            return {"type": "math_number", "id": self._id("n"), "fields": {"NUM": num}}
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool):
                return {"type": "logic_boolean", "id": self._id("b"), "fields": {"BOOL": "TRUE" if node.value else "FALSE"}}
            if node.value is None:
                return {"type": "logic_null", "id": self._id("null")}
            if isinstance(node.value, str):
                return {"type": "text", "id": self._id("t"), "fields": {"TEXT": node.value}}
        if isinstance(node, ast.Name):
            return {"type": "variables_get", "id": self._id("v"), "fields": {"VAR": self.var(node.id)}}
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "str" and len(node.args) == 1 \
                and not node.keywords and not _is_text(node.args[0]):
            return self.text_join([node.args[0]])      # str(x): a join of one item
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and _text_chain(node):
            items = _text_chain(node)                  # "t = " + str(t) + " C": joins of two, nested
            block = self.text_join([_join_item(items[0]), _join_item(items[1])])
            for item in items[2:]:
                block = {"type": "text_join", "id": self._id("join"), "extraState": {"itemCount": 2},
                         "inputs": {"ADD0": {"block": block}, "ADD1": {"block": self.value(_join_item(item))}}}
            return block
        if isinstance(node, ast.BinOp) and any(_is_text(n) for n in (node.left, node.right)):
            raise _NoBlock(f"text joined to a value: write str(value) in {ast.unparse(node)!r}")
        if isinstance(node, ast.BinOp) and type(node.op) in BINOPS:
            return {"type": "math_arithmetic", "id": self._id("m"), "fields": {"OP": BINOPS[type(node.op)]},
                    "inputs": {"A": {"block": self.value(node.left)}, "B": {"block": self.value(node.right)}}}
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return {"type": "math_modulo", "id": self._id("m"),
                    "inputs": {"DIVIDEND": {"block": self.value(node.left)}, "DIVISOR": {"block": self.value(node.right)}}}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return {"type": "math_single", "id": self._id("m"), "fields": {"OP": "NEG"},
                    "inputs": {"NUM": {"block": self.value(node.operand)}}}
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return {"type": "logic_negate", "id": self._id("l"), "inputs": {"BOOL": {"block": self.value(node.operand)}}}
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in CMPOPS:
            return {"type": "logic_compare", "id": self._id("c"), "fields": {"OP": CMPOPS[type(node.ops[0])]},
                    "inputs": {"A": {"block": self.value(node.left)}, "B": {"block": self.value(node.comparators[0])}}}
        if isinstance(node, ast.BoolOp):
            op = "AND" if isinstance(node.op, ast.And) else "OR"
            block = self.value(node.values[0])
            for right in node.values[1:]:      # a and b and c -> (a and b) and c
                block = {"type": "logic_operation", "id": self._id("l"), "fields": {"OP": op},
                         "inputs": {"A": {"block": block}, "B": {"block": self.value(right)}}}
            return block
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "randint"
                and getattr(node.func.value, "id", "") == "random" and len(node.args) == 2 and not node.keywords):
            return {"type": "math_random_int", "id": self._id("r"),
                    "inputs": {"FROM": {"block": self.value(node.args[0])}, "TO": {"block": self.value(node.args[1])}}}
        if isinstance(node, ast.List):
            return {"type": "lists_create_with", "id": self._id("list"), "extraState": {"itemCount": len(node.elts)},
                    "inputs": {f"ADD{i}": {"block": self.value(e)} for i, e in enumerate(node.elts)}}
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in self.functions:
            return self.call_block(node, "procedures_callreturn")
        if _is_robot_call(node):
            block = self.robot_block(node)
            if "output" not in _blocks()[node.func.attr][0]:
                raise _NoBlock(f"robot.{node.func.attr}() returns nothing, so it cannot be used as a value")
            return block
        raise _NoBlock(f"no block for the value {ast.unparse(node)!r}")

    def text_join(self, items) -> dict:
        return {"type": "text_join", "id": self._id("join"), "extraState": {"itemCount": len(items)},
                "inputs": {f"ADD{i}": {"block": self.value(e)} for i, e in enumerate(items)}}

    # ------------------------------------------------------------------ functions
    def function(self, f: ast.FunctionDef) -> dict:
        a = f.args
        if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.posonlyargs or f.decorator_list:
            raise _NoBlock("functions with default, keyword or * parameters have no block")
        body = [s for s in f.body if not isinstance(s, ast.Global) and not _is_docstring(s)]
        ret = None
        if body and isinstance(body[-1], ast.Return):
            ret, body = body[-1].value, body[:-1]
        if any(isinstance(n, ast.Return) for s in body for n in ast.walk(s)):
            raise _NoBlock("a return before the end of the function has no block")
        block = {"type": "procedures_defreturn" if ret is not None else "procedures_defnoreturn",
                 "id": self._id("def"), "fields": {"NAME": f.name}}
        if a.args:
            block["extraState"] = {"params": [{"name": p.arg, "id": self.var(p.arg)["id"]} for p in a.args]}
        self._with_body(block, "STACK", body)
        if ret is not None:
            block.setdefault("inputs", {})["RETURN"] = {"block": self.value(ret)}
        return block

    def call_block(self, call: ast.Call, kind: str) -> dict:
        f = self.functions[call.func.id]
        if call.keywords or len(call.args) != len(f.args.args):
            raise _NoBlock(f"{call.func.id}() needs exactly {len(f.args.args)} positional arguments")
        returns = bool(f.body) and isinstance(f.body[-1], ast.Return) and f.body[-1].value is not None
        if returns != (kind == "procedures_callreturn"):
            raise _NoBlock(f"{call.func.id}() " + ("gives a value; use it" if returns else "gives no value"))
        block = {"type": kind, "id": self._id("call"),
                 "extraState": {"name": call.func.id, "params": [p.arg for p in f.args.args]}}
        if call.args:
            block["inputs"] = {f"ARG{i}": {"block": self.value(v)} for i, v in enumerate(call.args)}
        return block

    def robot_block(self, call: ast.Call) -> dict:
        method = call.func.attr
        if method not in _blocks():
            raise _NoBlock(f"the firmware has no block robot.{method}")
        definition, _ = _blocks()[method]
        kinds = {a["name"]: a for a in definition.get("args0", [])}
        block = {"type": method, "id": self._id(method)}
        fields, inputs = {}, {}
        for name, p, node in _bind(method, call):
            arg = kinds[p["block_field"]]
            if arg["type"] == "input_value":
                inputs[arg["name"]] = {"block": self.value(node)}
                continue
            if not isinstance(node, (ast.Constant, ast.UnaryOp)):
                raise _NoBlock(f"the {name} field of robot.{method} holds a constant, not {ast.unparse(node)!r}")
            v = _number(node) if arg["type"] == "field_number" else getattr(node, "value", None)
            if arg["type"] == "field_number":
                lo, hi = arg.get("min"), arg.get("max")
                if v is None or isinstance(v, bool):
                    raise _NoBlock(f"{name} must be a number")
                if (lo is not None and v < lo) or (hi is not None and v > hi):
                    raise _NoBlock(f"{name}={v} is outside the block's range {lo}..{hi}")
                if arg.get("precision") == 1 and v != int(v):
                    raise _NoBlock(f"{name} must be a whole number")
                fields[arg["name"]] = v
            elif arg["type"] == "field_checkbox":
                if not isinstance(v, bool):
                    raise _NoBlock(f"{name} must be True or False")
                fields[arg["name"]] = "TRUE" if v else "FALSE"
            elif arg["type"] == "field_dropdown":
                choices = [o[1] for o in arg["options"]]
                if v not in choices:
                    raise _NoBlock(f"{name} must be one of {choices}")
                fields[arg["name"]] = v
            else:                                  # field_input: text
                if not isinstance(v, str):
                    raise _NoBlock(f"{name} must be text")
                fields[arg["name"]] = v
        if fields:
            block["fields"] = fields
        if inputs:
            block["inputs"] = inputs
        return block

    # ------------------------------------------------------------------ statements
    def statements(self, body) -> dict | None:
        """A chain of statement blocks (linked by "next"), or None for an empty body."""
        blocks = []
        for node in body:
            try:
                b = self.statement(node)
            except _NoBlock as e:
                src = "\n".join(self.lines[node.lineno - 1:node.end_lineno])
                self.unsupported.append(Unsupported(node.lineno, src, str(e)))
                continue
            if b is not None:
                blocks.append(b)
        for a, b in zip(reversed(blocks[:-1]), reversed(blocks[1:])):
            a["next"] = {"block": b}
        return blocks[0] if blocks else None

    def _with_body(self, block, name, body):
        chain = self.statements(body)
        if chain is not None:
            block.setdefault("inputs", {})[name] = {"block": chain}
        return block

    def statement(self, node) -> dict | None:
        if isinstance(node, ast.Import) and all(a.name in SKIP_IMPORTS and a.asname is None for a in node.names):
            return None
        if isinstance(node, ast.ImportFrom) and node.module == "robot" and [a.name for a in node.names] == ["Robot"]:
            return None
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            raise _NoBlock("no blocks for this module (only the robot's blocks)")
        if (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id == ROBOT):
            v = node.value
            if isinstance(v, ast.Call) and isinstance(v.func, ast.Name) and v.func.id == "Robot" and not v.args and not v.keywords:
                return None                        # Blockly's generator writes `robot = Robot()` itself
            raise _NoBlock("the block editor always uses robot = Robot() with the default pins")
        if isinstance(node, ast.Pass):
            return None
        if isinstance(node, (ast.Break, ast.Continue)):
            return {"type": "controls_flow_statements", "id": self._id("flow"),
                    "fields": {"FLOW": "BREAK" if isinstance(node, ast.Break) else "CONTINUE"}}
        if isinstance(node, ast.Expr):
            call = node.value
            if _is_robot_call(call):
                block = self.robot_block(call)
                if "output" in _blocks()[call.func.attr][0]:
                    raise _NoBlock(f"robot.{call.func.attr}() gives a value; use it (print it, store it)")
                return block
            if _is_time_sleep(call):
                if len(call.args) != 1 or call.keywords:
                    raise _NoBlock("time.sleep takes one value")
                method = SLEEP_BLOCKS[call.func.attr]
                fake = ast.Call(func=ast.Attribute(value=ast.Name(ROBOT), attr=method), args=call.args, keywords=[])
                return self.robot_block(fake)
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
                if len(call.args) != 1 or call.keywords:
                    raise _NoBlock("the print block prints one value")
                return {"type": "text_print", "id": self._id("print"), "inputs": {"TEXT": {"block": self.value(call.args[0])}}}
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in self.functions:
                return self.call_block(call, "procedures_callnoreturn")
            raise _NoBlock("no block for this call")
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            return {"type": "variables_set", "id": self._id("set"), "fields": {"VAR": self.var(node.targets[0].id)},
                    "inputs": {"VALUE": {"block": self.value(node.value)}}}
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name):
            expr = ast.BinOp(left=ast.Name(node.target.id), op=node.op, right=node.value)  # x += 1 -> x = x + 1
            return {"type": "variables_set", "id": self._id("set"), "fields": {"VAR": self.var(node.target.id)},
                    "inputs": {"VALUE": {"block": self.value(expr)}}}
        if isinstance(node, ast.While) and not node.orelse:
            block = {"type": "controls_whileUntil", "id": self._id("while"), "fields": {"MODE": "WHILE"},
                     "inputs": {"BOOL": {"block": self.value(node.test)}}}
            return self._with_body(block, "DO", node.body)
        if isinstance(node, ast.For) and not node.orelse and isinstance(node.target, ast.Name):
            if isinstance(node.iter, ast.Call) and getattr(node.iter.func, "id", "") == "range":
                return self.for_range(node)
            block = {"type": "controls_forEach", "id": self._id("each"), "fields": {"VAR": self.var(node.target.id)},
                     "inputs": {"LIST": {"block": self.value(node.iter)}}}     # for note in notes:
            return self._with_body(block, "DO", node.body)
        if isinstance(node, ast.If):
            return self.if_chain(node)
        raise _NoBlock(f"no block for {type(node).__name__}")

    def for_range(self, node) -> dict:
        it = node.iter
        if not (isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
                and 1 <= len(it.args) <= 3 and not it.keywords):
            raise _NoBlock("only `for name in range(...)` loops are blocks")
        nums = [_number(a) for a in it.args]
        if any(n is None or not isinstance(n, int) for n in nums):
            raise _NoBlock("range() with whole-number constants only")
        start, stop, step = (0, nums[0], 1) if len(nums) == 1 else (nums[0], nums[1], nums[2] if len(nums) == 3 else 1)
        if step == 0 or (stop - start) * step <= 0:
            raise _NoBlock("range() with at least one step")
        last = start + (stop - start - (1 if step > 0 else -1)) // step * step   # Blockly counts FROM..TO inclusive
        step = abs(step)                                    # and takes the size of the step (BY > 0)
        block = {"type": "controls_for", "id": self._id("for"), "fields": {"VAR": self.var(node.target.id)},
                 "inputs": {"FROM": {"block": self.value(ast.Constant(start))},
                            "TO": {"block": self.value(ast.Constant(last))},
                            "BY": {"block": self.value(ast.Constant(step))}}}
        return self._with_body(block, "DO", node.body)

    def if_chain(self, node) -> dict:
        tests, bodies = [], []
        while True:                                # if / elif / elif ... / else
            tests.append(node.test)
            bodies.append(node.body)
            if len(node.orelse) == 1 and isinstance(node.orelse[0], ast.If):
                node = node.orelse[0]
                continue
            orelse = node.orelse
            break
        block = {"type": "controls_if", "id": self._id("if"), "inputs": {}}
        if len(tests) > 1 or orelse:
            block["extraState"] = {}
            if len(tests) > 1:
                block["extraState"]["elseIfCount"] = len(tests) - 1
            if orelse:
                block["extraState"]["hasElse"] = True
        for i, (test, body) in enumerate(zip(tests, bodies)):
            block["inputs"][f"IF{i}"] = {"block": self.value(test)}
            self._with_body(block, f"DO{i}", body)
        if orelse:
            self._with_body(block, "ELSE", orelse)
        return block


def code_to_blocks(code: str) -> BlocksResult:
    """The Blockly workspace (JSON serialization) for `code`, and the lines that have no block."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        return BlocksResult({"blocks": {"languageVersion": 0, "blocks": []}},
                            [Unsupported(e.lineno or 0, e.text or "", f"syntax error: {e.msg}")])
    b = _Builder(code.splitlines())
    tree = _rename_robot(tree)
    b.functions = {f.name: f for f in tree.body if isinstance(f, ast.FunctionDef)}
    top = []
    for f in tree.body:                            # each function is its own block stack
        if isinstance(f, ast.FunctionDef):
            try:
                top.append(b.function(f))
            except _NoBlock as e:
                b.unsupported.append(Unsupported(f.lineno, b.lines[f.lineno - 1], str(e)))
    chain = b.statements([s for s in tree.body if not isinstance(s, ast.FunctionDef)])
    if chain is not None:
        top.append(chain)
    for i, block in enumerate(top):
        block.update({"x": 20, "y": 20 + 300 * i})
    ws = {"blocks": {"languageVersion": 0, "blocks": top}}
    if b.variables:
        ws["variables"] = [{"name": n, "id": i} for n, i in b.variables.items()]
    return BlocksResult(ws, b.unsupported)


# ----------------------------------------------------------------------------- matching

class _Normalize(ast.NodeTransformer):
    def visit_AugAssign(self, node):               # x += v  ->  x = x + v
        node = self.generic_visit(node)
        return ast.Assign(targets=[ast.Name(node.target.id, ast.Store())],
                          value=ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value), lineno=0)

    def visit_Call(self, node):
        node = self.generic_visit(node)
        if (getattr(node.func, "id", "") == "str" and len(node.args) == 1 and not node.keywords
                and isinstance(node.args[0], ast.BinOp) and _text_chain(node.args[0])):
            return node.args[0]                    # str("a" + str(b)) is "a" + str(b): already text
        if _is_time_sleep(node):                   # time.sleep(s) -> robot.wait(s)
            node = ast.Call(ast.Attribute(ast.Name(ROBOT, ast.Load()), SLEEP_BLOCKS[node.func.attr], ast.Load()),
                            node.args, node.keywords)
        if _is_robot_call(node) and node.func.attr in _blocks():
            try:                                   # robot.f(speed=60) -> robot.f(60, <defaults>)
                node = ast.Call(node.func, [v for _, _, v in _bind(node.func.attr, node)], [])
            except _NoBlock:
                pass
        return node



class _Numbers(ast.NodeTransformer):
    def visit_UnaryOp(self, node):                 # -5 is the constant -5
        node = self.generic_visit(node)
        v = _number(node)
        return ast.Constant(float(v)) if v is not None else node

    def visit_Constant(self, node):                # 1 == 1.0 (a block field stores a number)
        if type(node.value) in (int, float):
            return ast.Constant(float(node.value))
        return node


def normalize(code: str, blockly_output: bool = False) -> str:
    """A canonical dump of `code` for comparing a program with Blockly's regeneration of it.

    Two programs match when their normalized dumps are equal. The rewrites:
    - whitespace, comments, blank lines and redundant parentheses vanish (it compares syntax trees);
    - `import time`, `from robot import Robot`, `robot = Robot()` and `pass` are dropped;
    - with blockly_output=True, the leading `name = None` lines are dropped (Blockly declares
      every workspace variable first);
    - `x += v` is `x = x + v`; `time.sleep(s)`/`time.sleep_ms(ms)` are `robot.wait(s)`/`robot.wait_ms(ms)`;
    - robot calls are bound to their parameters with the firmware defaults filled in
      (`robot.move_forward()` == `robot.move_forward(50)` == `robot.move_forward(speed=50)`);
    - numbers compare by value (1 == 1.0; -5 is a constant); a range() of constants compares by
      the numbers it yields (`range(5)` == `range(0, 5, 1)`, `range(2, 10, 3)` == `range(2, 9, 3)`);
    - an unused loop variable's name does not matter (Blockly renames `_` to `_2`);
    - the robot object's name does not matter (`bot = Robot()` is `robot = Robot()`);
    - functions: docstrings and `global` lines are ignored (Blockly declares every workspace variable global in
      each function) and top-level `def`s compare as if written first (Blockly writes them first);
    - `str(t)` around a text join is dropped (`str("a" + str(b))` is `"a" + str(b)`): Blockly joins
      three pieces as two nested joins of two.
    """
    tree = _rename_robot(ast.parse(code))
    for node in ast.walk(tree):                    # Blockly declares every variable global in each function
        if isinstance(node, ast.FunctionDef):
            node.body = [s for s in node.body if not isinstance(s, ast.Global) and not _is_docstring(s)] or [ast.Pass()]
    body = [s for s in tree.body if not _is_boilerplate(s)]
    while blockly_output and body and _is_none_decl(body[0]):
        body.pop(0)
    body = [s for s in body if isinstance(s, ast.FunctionDef)] + [s for s in body if not isinstance(s, ast.FunctionDef)]
    tree.body = body
    tree = _Numbers().visit(_Normalize().visit(tree))
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    for node in ast.walk(tree):
        if isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and getattr(node.iter.func, "id", "") == "range":
            nums = [a.value for a in node.iter.args if isinstance(a, ast.Constant)]
            if len(nums) == len(node.iter.args) and all(float(v).is_integer() for v in nums):
                start, stop, step = (0.0, nums[0], 1.0) if len(nums) == 1 else (*nums[:2], nums[2] if len(nums) == 3 else 1.0)
                if step and (stop - start) * step > 0:  # range(2, 10, 3) == range(2, 9, 3): the same numbers
                    sign = 1 if step > 0 else -1
                    stop = start + (stop - start - sign) // step * step + sign
                node.iter.args = [ast.Constant(float(v)) for v in (start, stop, step)]
            if isinstance(node.target, ast.Name) and node.target.id not in used:
                node.target = ast.Name("_", ast.Store())   # an unused loop variable's name does not matter
        for name in ("body", "orelse"):
            if isinstance(getattr(node, name, None), list):
                setattr(node, name, [s for s in getattr(node, name) if not isinstance(s, ast.Pass)])
    return ast.dump(ast.fix_missing_locations(tree), include_attributes=False)


def _is_text(node) -> bool:
    return isinstance(node, ast.Constant) and isinstance(node.value, str)


def _join_item(node):
    """What a text-join socket holds for `node` ("text" stays, str(x) is x), or None."""
    if _is_text(node):
        return node
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "str" and len(node.args) == 1 and not node.keywords:
        return node.args[0]
    return None


def _text_chain(node):
    """The items of "a" + str(b) + "c" (left to right) when each is text or str(...) and one is text, else None."""
    items = []
    while isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        items.insert(0, node.right)
        node = node.left
    items.insert(0, node)
    if all(_join_item(i) is not None for i in items) and any(_is_text(i) for i in items):
        return items
    return None


def _is_docstring(s) -> bool:
    return isinstance(s, ast.Expr) and _is_text(s.value)


def _is_none_decl(s) -> bool:
    return (isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
            and isinstance(s.value, ast.Constant) and s.value.value is None)


def _is_boilerplate(s) -> bool:
    if isinstance(s, ast.Import) and all(a.name in SKIP_IMPORTS for a in s.names):
        return True
    if isinstance(s, ast.ImportFrom) and s.module == "robot":
        return True
    if isinstance(s, ast.Pass):
        return True
    return (isinstance(s, ast.Assign) and len(s.targets) == 1 and isinstance(s.targets[0], ast.Name)
            and s.targets[0].id == ROBOT and isinstance(s.value, ast.Call)
            and getattr(s.value.func, "id", "") == "Robot" and not s.value.args)


def matches(original: str, regenerated: str) -> bool:
    """True when Blockly's `regenerated` program is the same program as `original` (see normalize)."""
    return normalize(original) == normalize(regenerated, blockly_output=True)


__all__ = ["code_to_blocks", "BlocksResult", "Unsupported", "normalize", "matches"]


def main(argv=None) -> int:
    """python -m robolm.blocks PROGRAM.py [-o WORKSPACE.json]: the Blockly workspace of a program."""
    import argparse
    import json
    import sys
    ap = argparse.ArgumentParser(prog="python -m robolm.blocks", description=main.__doc__)
    ap.add_argument("program", help="a MicroPython file that uses robot.<method>(...)")
    ap.add_argument("-o", "--out", help="write the workspace JSON here (default: standard output)")
    args = ap.parse_args(argv)
    try:
        code = open(args.program, encoding="utf-8").read()
    except OSError as e:
        print(f"robolm.blocks: cannot read {args.program}: {e.strerror}", file=sys.stderr)
        return 2
    except UnicodeDecodeError:
        print(f"robolm.blocks: {args.program} is not UTF-8 text", file=sys.stderr)
        return 2
    result = code_to_blocks(code)
    text = json.dumps(result.workspace, ensure_ascii=False, indent=1)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    if not result.ok:
        print(result.message(), file=sys.stderr)
    return 0 if result.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
