"""The `calculator` tool: one arithmetic expression in, one exact number out.

Reading. A small pre-pass (`_prepare`) turns calculator notation into Python expression
syntax, `ast.parse(..., mode="eval")` reads it, every node is checked against an allow-list
(`_check_nodes`) and `_Evaluator` walks the tree. Nothing the user wrote is ever compiled or
run as code. The pre-pass, in order:
- `×` `·` → `*`, `÷` → `/`, `−` `–` → `-`, `π` → `pi`, `²` `³` → `**2` `**3`, `√x` → `sqrt(x)`;
  a trailing `=` is dropped; any other non-ASCII character is refused.
- Names starting with `_` are refused (no dunder can reach the tree).
- `^` is power (`**`), never XOR.
- Thousands separators: `1,000,000` is one number where a comma cannot separate arguments,
  that is outside a function call's parentheses. Inside `f(...)` commas always separate
  arguments (`round(2.567, 2)`); write `1000000` there.
- `a mod b` is the remainder.
- Postfix `n!` is `factorial(n)`; it binds tighter than `**` and unary minus (`-3!` = -6,
  `2**3!` = 64).
- `%`: directly followed by a value (`17 % 5`, `17 % (2+3)`) it is the remainder; otherwise it
  is a percent (`50%` = 0.5, `15% of 80` = 12, `80 * 15%` = 12). `a + b%` and `a - b%` add or
  subtract b percent of a, as on a desk calculator (`120 + 10%` = 132, `120 - 10%` = 108).
  `17 % -5` is ambiguous and refused: write `17 mod -5` or `17% - 5`.

Values. Exact values are `fractions.Fraction` (decimal literals too: `0.1` is 1/10, so
`0.1 + 0.2` is exactly 3/10). Irrational results (`sqrt(2)`, `sin(1)`, `pi`, `log(3)`) are
`decimal.Decimal` at 50 significant digits, shown at 30; exact cases stay exact (`sqrt(16)`,
`sqrt(9/4)`, `8**(1/3)`, `log(8, 2)`, `cos(0)`). When an approximate sum cancels below its
operands' precision (`sqrt(2)**2 - 2`, `sin(pi)`) the result is 0, as a calculator shows it.

Bounds. Every exact step is sized before it is computed (bits of the base × the exponent, the
log-gamma of a factorial), and numbers over `MAX_BITS` (~30,000 digits) are refused at once:
`9**9**9` or `100000!` is a message, never a hang or a MemoryError. The input is at most
`MAX_INPUT_CHARS` long and `MAX_DEPTH` deep; a shown result has at most `MAX_SHOWN_DIGITS`
digits (a longer exact result is refused with its approximate value).
"""
from __future__ import annotations

import ast
import decimal
import functools
import math
import re
import time
from collections.abc import Callable
from decimal import Decimal
from fractions import Fraction
from typing import Any, Union

from engine.cancel import Cancel
from engine.tools.base import ToolResult, ToolSpec, truncate

MAX_INPUT_CHARS = 2000
MAX_DEPTH = 100              # nesting levels of the expression (a long flat sum is one level)
MAX_BITS = 100_000           # size of any exact number met on the way (~30,100 decimal digits)
MAX_SHOWN_DIGITS = 4000      # digits of a shown result (Python's int→str limit is 4300)
WORK_DIGITS = 50             # significant digits carried by approximate values
GUARD_DIGITS = 10            # of which the last ones are treated as noise
SHOWN_DIGITS = 30            # significant digits shown for an approximate result
MAX_TRIG_MAGNITUDE = 1000    # decimal exponent of the largest exact angle
MAX_APPROX_EXPONENT = 100_000  # approximate values live between 1e-100000 and 1e100000

_LOG10_2 = math.log10(2)
_PERCENT = "__percent__"     # the pre-pass's name for postfix %; users cannot write `_` names
_MOD_MARK = "\x01"           # the pre-pass's mark for an infix `mod`, turned into `%` at the end

Value = Union[Fraction, Decimal]


class CalculatorError(Exception):
    """The expression was refused or could not be calculated; str() says why."""


# ---------------------------------------------------------------------------------------------
# Public API


def evaluate(expression: str, *, stop: Callable[[], bool] | None = None) -> str:
    """The value of `expression` as text (see the module docstring for the syntax and the
    formats). Raises CalculatorError with the reason; `stop()` returning True cancels."""
    if not isinstance(expression, str):
        raise CalculatorError("the expression must be text")
    if len(expression) > MAX_INPUT_CHARS:
        raise CalculatorError(f"the expression is too long ({len(expression):,} characters; "
                              f"the limit is {MAX_INPUT_CHARS:,})")
    source = _prepare(expression)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        message = str(exc.msg)
        if "too many nested parentheses" in message or "too complex" in message:
            raise CalculatorError("the expression is nested too deeply") from None
        hint = " (multiplication needs '*': write 2*pi, not 2pi)" if "invalid decimal literal" in message else ""
        raise CalculatorError(f"could not read the expression ({message}){hint}") from None
    except (RecursionError, MemoryError):
        raise CalculatorError("the expression is nested too deeply") from None
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise CalculatorError(f"could not read the expression ({exc})") from None
    _check_nodes(tree)
    with decimal.localcontext(_work_context()):
        try:
            value = _Evaluator(source, stop).eval(tree, 0)
            return _format(value)
        except CalculatorError:
            raise
        except decimal.Overflow:
            raise CalculatorError("the result is too large") from None
        except decimal.Underflow:
            raise CalculatorError(f"the result is too close to zero (under 1e-{MAX_APPROX_EXPONENT})") from None
        except ZeroDivisionError:  # decimal.DivisionByZero is one too
            raise CalculatorError("division by zero") from None
        except decimal.InvalidOperation:
            raise CalculatorError("the calculation is undefined") from None
        except (OverflowError, MemoryError):
            raise CalculatorError("a number in the calculation is too large") from None
        except RecursionError:
            raise CalculatorError("the expression is nested too deeply") from None
        except (ArithmeticError, ValueError, TypeError) as exc:
            raise CalculatorError(f"could not calculate this ({exc})") from None


DESCRIPTION = (
    "Exact calculator: give one arithmetic expression and get its value. Use it for any "
    "arithmetic instead of working it out yourself. Integers of any size, fractions and "
    "decimals are exact (0.1+0.2 gives 0.3, 1/3 gives 1/3, 2**100 gives all 31 digits); roots, "
    "logarithms and trigonometry give 30 significant digits. Operators: + - * / // ** (or ^), "
    "parentheses, n! (factorial), % as percent (15% of 80, 80 * 15%, 120 + 10% = 132) or as "
    "remainder when a number follows it (17 % 5; also 17 mod 5). Functions: sqrt, cbrt, exp, "
    "ln, log(x) (natural), log(x, base), log10, log2, sin, cos, tan, asin, acos, atan (radians), "
    "radians, degrees, abs, round(x) or round(x, digits) (halves away from zero), floor, ceil, "
    "factorial, comb, perm, gcd, lcm, min, max, mod. Constants: pi, e, tau. Write numbers plainly "
    "(1000000 or 1,000,000 outside function parentheses). No variables, units or equations."
)

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "expression": {
            "type": "string",
            "description": "One arithmetic expression, for example \"(3.5 + 2) * 4^2\", "
                           "\"15% of 80\", \"sqrt(2)\", \"20!\" or \"log(1000, 10)\".",
        },
    },
    "required": ["expression"],
}


class Calculator:
    """The tool the model calls: `{"expression": "..."}` → the value as text."""

    spec = ToolSpec(name="calculator", description=DESCRIPTION, parameters=PARAMETERS)

    def run(self, arguments: dict[str, Any], cancel: Cancel) -> ToolResult:
        started = time.monotonic()

        def result(text: str, ok: bool) -> ToolResult:
            text, cut = truncate(text)
            return ToolResult(text=text, ok=ok, elapsed_s=time.monotonic() - started, truncated=cut)

        try:
            if cancel is not None and cancel.cancelled:
                return result("cancelled", False)
            if not isinstance(arguments, dict) or "expression" not in arguments:
                return result("missing argument 'expression' (one arithmetic expression as text)", False)
            expression = arguments["expression"]
            if isinstance(expression, (int, float)) and not isinstance(expression, bool):
                expression = repr(expression)
            if not isinstance(expression, str):
                return result("'expression' must be text, for example \"2 + 2\"", False)
            stop = (lambda: cancel.cancelled) if cancel is not None else None
            return result(evaluate(expression, stop=stop), True)
        except CalculatorError as exc:
            return result(str(exc), False)
        except Exception as exc:  # noqa: BLE001 - run never raises: a defect is a failed result
            return result(f"the calculator failed ({type(exc).__name__})", False)


# ---------------------------------------------------------------------------------------------
# The pre-pass: calculator notation → Python expression syntax

_REPLACEMENTS = {"×": "*", "·": "*", "÷": "/", "−": "-", "–": "-", "π": "pi", "²": "**2", "³": "**3"}
_SQRT_SIGN = re.compile(r"√\s*(\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*|[A-Za-z]\w*\b(?!\s*\())")
_SQRT_SIGN_CALL = re.compile(r"√(?=\s*\()")
_UNDERSCORE_NAME = re.compile(r"(?<![\w.])_\w*")
_NUMBER_INTO_KEYWORD = re.compile(r"(?<![\w.])\.?\d[\w.]*?(?:and|or|if|else|for|in|is|not)\b")
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+(?!\w)(?!,\d)")
_MOD_WORD = re.compile(r"\bmod\b")
_OF_AFTER_PERCENT = re.compile(r"%(\s*)of\b")
_EXPONENT_TAIL = re.compile(r"(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)[eE][+-]$")
_OPERAND_END = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.)")


def _prepare(text: str) -> str:
    s = text.replace("\n", " ").replace("\t", " ").replace("\r", " ").strip()
    if s.endswith("="):
        s = s[:-1].rstrip()
    if not s:
        raise CalculatorError("the expression is empty")
    for old, new in _REPLACEMENTS.items():
        s = s.replace(old, new)
    s = _SQRT_SIGN_CALL.sub("sqrt", _SQRT_SIGN.sub(r"sqrt(\1)", s))
    if "√" in s:
        raise CalculatorError("√ works before a number, a constant or parentheses; otherwise write sqrt(...)")
    for ch in s:
        if not (ch.isascii() and ch.isprintable()):
            raise CalculatorError(f"unexpected character {ch!r}")
    bad = _UNDERSCORE_NAME.search(s)
    if bad:
        raise CalculatorError(f"unknown name '{bad.group()}'")
    if _NUMBER_INTO_KEYWORD.search(s):  # `1if`, `2or`: refused here, before Python warns about it
        raise CalculatorError("could not read the expression (a number runs into a word; multiplication needs '*')")
    s = s.replace("^", "**")
    s = _group_thousands(s)
    s = _mark_infix_mod(s)
    s = _OF_AFTER_PERCENT.sub(r"%\1*", s)
    s = _rewrite_postfix(s)
    return s.replace(_MOD_MARK, "%")


def _previous_char(s: str, i: int) -> tuple[int, str]:
    """Index and character of the last non-space character before i; (-1, '') if none."""
    j = i - 1
    while j >= 0 and s[j] == " ":
        j -= 1
    return j, (s[j] if j >= 0 else "")


def _next_char(s: str, i: int) -> tuple[int, str]:
    j = i + 1
    while j < len(s) and s[j] == " ":
        j += 1
    return j, (s[j] if j < len(s) else "")


def _is_call_paren(s: str, i: int) -> bool:
    """Whether the `(` at i opens a function call's arguments (a name stands before it)."""
    j, ch = _previous_char(s, i)
    if not ch or not (ch.isalnum() or ch == "_"):
        return False
    while j > 0 and (s[j - 1].isalnum() or s[j - 1] == "_"):
        j -= 1
    return s[j].isalpha() or s[j] == "_"


def _group_thousands(s: str) -> str:
    out: list[str] = []
    calls: list[bool] = []  # one entry per open parenthesis: does it hold a call's arguments?
    i = 0
    while i < len(s):
        ch = s[i]
        if ch == "(":
            calls.append(_is_call_paren(s, i))
        elif ch == ")" and calls:
            calls.pop()
        elif ch.isdigit() and not (calls and calls[-1]) and (i == 0 or not (s[i - 1].isalnum() or s[i - 1] in "_.")):
            m = _GROUPED.match(s, i)
            if m:
                out.append(m.group().replace(",", ""))
                i = m.end()
                continue
        out.append(ch)
        i += 1
    return "".join(out)


def _mark_infix_mod(s: str) -> str:
    def replace(m: re.Match[str]) -> str:
        _, before = _previous_char(s, m.start())
        return _MOD_MARK if before and (before in _OPERAND_END or before in "!%") else m.group()

    return _MOD_WORD.sub(replace, s)


def _operand_start(s: str, end: int, op: str) -> int:
    """Where the operand that ends just before `end` starts (a number, a name, a parenthesised
    group or a call)."""
    j, ch = _previous_char(s, end)
    if not ch:
        raise CalculatorError(f"'{op}' needs a number before it")
    if ch == ")":
        depth = 0
        while j >= 0:
            if s[j] == ")":
                depth += 1
            elif s[j] == "(":
                depth -= 1
                if depth == 0:
                    break
            j -= 1
        if j < 0:
            raise CalculatorError("unbalanced parentheses")
        k, before = _previous_char(s, j)
        if before and (before.isalnum() or before == "_"):
            start = k
            while start > 0 and (s[start - 1].isalnum() or s[start - 1] == "_"):
                start -= 1
            if s[start].isalpha() or s[start] == "_":  # a call (a `_` name is the pre-pass's own)
                return start
        return j
    if ch.isalnum() or ch in "_.":
        start = j
        while start > 0 and (s[start - 1].isalnum() or s[start - 1] in "_."):
            start -= 1
        m = _EXPONENT_TAIL.search(s, 0, start)
        return m.start() if m else start
    raise CalculatorError(f"'{op}' needs a number before it")


def _rewrite_postfix(s: str) -> str:
    """`x!` → `factorial(x)` and a percent `x%` → `__percent__(x)`, left to right (so `3!!`
    and `5!%` chain)."""
    i = 0
    while i < len(s):
        ch = s[i]
        wrapper = None
        if ch == "!" and s[i + 1:i + 2] != "=":
            wrapper = "factorial"
        elif ch == "%" and _is_percent_sign(s, i):
            wrapper = _PERCENT
        if wrapper is None:
            i += 1
            continue
        start = _operand_start(s, i, ch)
        replacement = f"{wrapper}({s[start:i].strip()})"
        s = s[:start] + replacement + s[i + 1:]
        i = start + len(replacement)
    return s


def _is_percent_sign(s: str, i: int) -> bool:
    """A `%` followed directly by a value is the remainder; any other `%` is a percent."""
    j, after = _next_char(s, i)
    if after and (after.isalnum() or after in "_.("):
        return False
    if after in ("+", "-"):
        spaced = i > 0 and s[i - 1] == " " and j > i + 1
        glued = j + 1 < len(s) and (s[j + 1].isalnum() or s[j + 1] in "_.(")
        if spaced and glued:  # `17 % -5`: a Python remainder or a percent minus 5?
            raise CalculatorError(f"'% {after}' is ambiguous here: write 'mod' for a remainder (17 mod -5) "
                                  f"or keep the % next to its number for a percent (17% - 5)")
    return True


# ---------------------------------------------------------------------------------------------
# The allow-list

_BINOP_NAMES = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//",
                ast.Mod: "%", ast.Pow: "**"}
_OTHER_BINOPS = {ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.LShift: "<<",
                 ast.RShift: ">>", ast.MatMult: "@"}


def _check_nodes(tree: ast.AST) -> None:
    """Refuse anything outside the allow-list before a single value is computed."""
    for node in ast.walk(tree):
        if isinstance(node, (ast.Expression, ast.expr_context)) or type(node) in _BINOP_NAMES:
            continue
        if isinstance(node, (ast.UAdd, ast.USub)):
            continue
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOP_NAMES:
                raise CalculatorError(f"the operator '{_OTHER_BINOPS.get(type(node.op), '?')}' is not supported")
        elif isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.UAdd, ast.USub)):
                raise CalculatorError(f"'{'not' if isinstance(node.op, ast.Not) else '~'}' is not supported")
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool) or value is None or value is Ellipsis:
                raise CalculatorError(f"'{value}' is not a number")
            if isinstance(value, complex):
                raise CalculatorError("complex numbers are not supported")
            if isinstance(value, (str, bytes)):
                raise CalculatorError("text is not allowed in a calculation")
            if not isinstance(value, (int, float)):
                raise CalculatorError("that value is not allowed in a calculation")
        elif isinstance(node, ast.Name):
            if node.id not in _CONSTANTS and node.id not in _FUNCTIONS and node.id != _PERCENT:
                hint = " (write a percentage as '15% of 80')" if node.id == "of" else ""
                raise CalculatorError(f"unknown name '{node.id}'{hint}")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):
                raise CalculatorError("attribute access ('.name') is not allowed")
            if not isinstance(node.func, ast.Name):
                raise CalculatorError("only the calculator's named functions can be called")
            if node.func.id not in _FUNCTIONS and node.func.id != _PERCENT:
                raise CalculatorError(f"unknown function '{node.func.id}' (known: {', '.join(sorted(_FUNCTIONS))})")
            if node.keywords:
                raise CalculatorError("keyword arguments are not supported")
            if any(isinstance(a, ast.Starred) for a in node.args):
                raise CalculatorError("'*' unpacking is not supported")
        else:
            raise CalculatorError(_refusal(node))


def _refusal(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return "attribute access ('.name') is not allowed"
    if isinstance(node, ast.Subscript):
        return "indexing ('[...]') is not allowed"
    if isinstance(node, ast.Lambda):
        return "lambda functions are not allowed"
    if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
        return "comprehensions are not allowed"
    if isinstance(node, (ast.List, ast.Set, ast.Dict)):
        return "lists, sets and dictionaries are not allowed"
    if isinstance(node, ast.Tuple):
        return ("a comma only separates a function's arguments or groups thousands (1,000,000); "
                "for a decimal point write '.'")
    if isinstance(node, ast.Compare):
        return "comparisons are not supported"
    if isinstance(node, ast.BoolOp):
        return "'and' and 'or' are not supported"
    if isinstance(node, ast.IfExp):
        return "'if ... else' is not supported"
    if isinstance(node, ast.NamedExpr):
        return "assignments are not allowed"
    if isinstance(node, (ast.JoinedStr, ast.FormattedValue)):
        return "text is not allowed in a calculation"
    return f"{type(node).__name__} is not allowed in a calculation"


# ---------------------------------------------------------------------------------------------
# The walk


class _Evaluator:
    def __init__(self, source: str, stop: Callable[[], bool] | None) -> None:
        self.source = source
        self.stop = stop

    def eval(self, node: ast.AST, depth: int) -> Value:
        if depth > MAX_DEPTH:
            raise CalculatorError(f"the expression is nested too deeply (more than {MAX_DEPTH} levels)")
        if self.stop is not None and self.stop():
            raise CalculatorError("cancelled")
        if isinstance(node, ast.Expression):
            return self.eval(node.body, depth)
        if isinstance(node, ast.Constant):
            return self.constant(node)
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]()
            raise CalculatorError(f"{node.id} is a function: write {node.id}(...)")
        if isinstance(node, ast.UnaryOp):
            value = self.eval(node.operand, depth + 1)
            return _neg(value) if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp):
            return self.binop(node, depth)
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise CalculatorError(_refusal(node))

    def constant(self, node: ast.Constant) -> Value:
        if isinstance(node.value, int):
            _check_size(node.value.bit_length(), "a number in the expression")
            return Fraction(node.value)
        text = ast.get_source_segment(self.source, node) or repr(node.value)
        return _decimal_literal(text)

    def binop(self, node: ast.BinOp, depth: int) -> Value:
        # A long left-nested chain (1 + 2 + ... + 500) is folded in a loop, not by recursion.
        chain = []
        while isinstance(node, ast.BinOp):
            chain.append(node)
            node = node.left
        value = self.eval(node, depth + 1)
        for link in reversed(chain):
            if isinstance(link.op, (ast.Add, ast.Sub)):
                percent = _percent_term(link.right)
                if percent is not None:  # a + b% → a + a·b/100, as on a desk calculator
                    sign, inner = percent
                    share = _mul(value, _div(self.eval(inner, depth + 1), Fraction(100)))
                    if sign < 0:
                        share = _neg(share)
                    value = _add(value, share) if isinstance(link.op, ast.Add) else _add(value, _neg(share))
                    continue
            right = self.eval(link.right, depth + 1)
            value = _BINOPS[type(link.op)](value, right)
        return value

    def call(self, node: ast.Call, depth: int) -> Value:
        name = node.func.id  # type: ignore[attr-defined] - _check_nodes allowed only names
        if name == _PERCENT:
            return _div(self.eval(node.args[0], depth + 1), Fraction(100))
        low, high, function = _FUNCTIONS[name]
        count = len(node.args)
        if count < low or (high is not None and count > high):
            wanted = str(low) if low == high else (f"{low} or more" if high is None else f"{low} to {high}")
            hint = ""
            if high is not None and count > high:
                hint = " (inside a function's parentheses commas separate arguments: write 1000000, not 1,000,000)"
            raise CalculatorError(f"{name} takes {wanted} argument{'s' if wanted != '1' else ''}, got {count}{hint}")
        args = [self.eval(arg, depth + 1) for arg in node.args]
        return function(*args)


def _percent_term(node: ast.AST) -> tuple[int, ast.AST] | None:
    sign = 1
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.UAdd, ast.USub)):
        if isinstance(node.op, ast.USub):
            sign = -sign
        node = node.operand
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == _PERCENT:
        return sign, node.args[0]
    return None


_DECIMAL_LITERAL = re.compile(r"(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")


def _decimal_literal(text: str) -> Fraction:
    """`0.1` → 1/10 exactly, `1e-5` → 1/100000; sized before it is built."""
    m = _DECIMAL_LITERAL.fullmatch(text.replace("_", ""))
    if not m or not (m.group(1) or m.group(2)):
        raise CalculatorError(f"could not read the number {text!r}")
    whole, frac, exp = m.group(1) or "", m.group(2) or "", int(m.group(3) or 0)
    mantissa = int(whole + frac or "0")
    exponent = exp - len(frac)
    if mantissa == 0:
        return Fraction(0)
    if abs(exponent) > MAX_BITS * _LOG10_2 + len(whole + frac):
        raise CalculatorError(f"the number {text} is too large or too small for the calculator")
    scale = 10 ** abs(exponent)
    _check_size(mantissa.bit_length() + scale.bit_length(), f"the number {text}")
    return Fraction(mantissa * scale) if exponent >= 0 else Fraction(mantissa, scale)


# ---------------------------------------------------------------------------------------------
# Arithmetic on exact (Fraction) and approximate (Decimal) values


def _work_context() -> decimal.Context:
    return decimal.Context(prec=WORK_DIGITS, rounding=decimal.ROUND_HALF_EVEN,
                           Emax=MAX_APPROX_EXPONENT, Emin=-MAX_APPROX_EXPONENT,
                           traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow,
                                  decimal.Underflow])


def _is_exact(v: Value) -> bool:
    return isinstance(v, Fraction)


def _to_decimal(v: Value) -> Decimal:
    """A value as a Decimal rounded to the current context's precision."""
    if isinstance(v, Decimal):
        return +v
    if v.denominator == 1:
        return +Decimal(v.numerator)
    return Decimal(v.numerator) / Decimal(v.denominator)


def _bits(q: Fraction) -> int:
    return max(q.numerator.bit_length(), q.denominator.bit_length())


def _digits_for_bits(bits: float) -> int:
    return int(bits * _LOG10_2) + 1


def _check_size(bits: float, what: str) -> None:
    if bits > MAX_BITS:
        if not math.isfinite(bits) or bits > 1e15:
            raise CalculatorError(f"{what} would be far too large "
                                  f"(the limit is {_digits_for_bits(MAX_BITS):,} digits)")
        raise CalculatorError(f"{what} would be too large: about {_digits_for_bits(bits):,} digits "
                              f"(the limit is {_digits_for_bits(MAX_BITS):,})")


def _short(v: Value) -> str:
    if isinstance(v, Fraction):
        text = str(v) if _bits(v) < 64 else "a large number"
    else:
        text = _format_approx(v)
    return text if len(text) <= 24 else "a long number"


def _noise_to_zero(result: Decimal, *operands: Decimal) -> Decimal:
    """An approximate result smaller than its operands' last trusted digit is zero (a sum that
    cancels, sin(pi)): showing the leftover noise would be wrong."""
    if result.is_zero():
        return result
    scale = max(abs(o) for o in operands)
    if abs(result) < scale.scaleb(-(WORK_DIGITS - GUARD_DIGITS)):
        return Decimal(0)
    return result


def _neg(a: Value) -> Value:
    return -a


def _add(a: Value, b: Value) -> Value:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        bits = max(a.numerator.bit_length() + b.denominator.bit_length(),
                   b.numerator.bit_length() + a.denominator.bit_length(),
                   a.denominator.bit_length() + b.denominator.bit_length()) + 1
        _check_size(bits, "a sum")
        return a + b
    x, y = _to_decimal(a), _to_decimal(b)
    return _noise_to_zero(x + y, x, y)


def _sub(a: Value, b: Value) -> Value:
    return _add(a, _neg(b))


def _mul(a: Value, b: Value) -> Value:
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        if a == 0 or b == 0:
            return Fraction(0)
        _check_size(max(a.numerator.bit_length() + b.numerator.bit_length(),
                        a.denominator.bit_length() + b.denominator.bit_length()), "a product")
        return a * b
    return _to_decimal(a) * _to_decimal(b)


def _div(a: Value, b: Value) -> Value:
    if b == 0:
        raise CalculatorError("division by zero")
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        if a == 0:
            return Fraction(0)
        _check_size(max(a.numerator.bit_length() + b.denominator.bit_length(),
                        a.denominator.bit_length() + b.numerator.bit_length()), "a quotient")
        return a / b
    return _to_decimal(a) / _to_decimal(b)


def _floordiv(a: Value, b: Value) -> Value:
    return _floor(_div(a, b))


def _mod(a: Value, b: Value) -> Value:
    if b == 0:
        raise CalculatorError("division by zero (the remainder of a division by 0)")
    if isinstance(a, Fraction) and isinstance(b, Fraction):
        _div(a, b)  # sizes the step
        return a % b
    return _sub(a, _mul(b, _floordiv(a, b)))


def _pow(a: Value, b: Value) -> Value:
    if isinstance(b, Fraction) and b.denominator == 1:
        n = b.numerator
        if isinstance(a, Fraction):
            return _pow_exact(a, n)
        if a == 0 and n < 0:
            raise CalculatorError("division by zero (0 to a negative power)")
        return a ** n
    if a == 0:
        if b > 0:
            return Fraction(0) if _is_exact(a) else Decimal(0)
        raise CalculatorError("division by zero (0 to a negative power)")
    if isinstance(b, Fraction):  # p/q, q > 1: a real q-th root when q is odd
        p, q = b.numerator, b.denominator
        if a < 0 and q % 2 == 0:
            raise CalculatorError("an even root of a negative number is not a real number")
        negative = a < 0 and p % 2 == 1
        magnitude = abs(a)
        if isinstance(magnitude, Fraction):
            root = _exact_root(magnitude, q)
            if root is not None:
                value = _pow_exact(root, p)
                return -value if negative else value
        value = _to_decimal(magnitude) ** _to_decimal(b)
        return -value if negative else value
    if a < 0:
        raise CalculatorError("a negative number to a non-whole power is not a real number")
    if a == 1 and _is_exact(a):
        return Fraction(1)
    return _to_decimal(a) ** b


def _pow_exact(a: Fraction, n: int) -> Fraction:
    if a == 0:
        if n < 0:
            raise CalculatorError("division by zero (0 to a negative power)")
        return Fraction(1) if n == 0 else Fraction(0)
    if abs(a) == 1:
        return a ** (n % 2) if a < 0 else Fraction(1)
    if n == 0:
        return Fraction(1)
    what = f"{_short(a)}**{n}" if n.bit_length() < 64 else f"{_short(a)} to that power"
    if n.bit_length() > 64:
        _check_size(float("inf"), what)
    bits = abs(n) * max(math.log2(abs(a.numerator)), math.log2(a.denominator))
    _check_size(bits, what)
    return a ** n


def _iroot(n: int, k: int) -> int:
    """The largest r with r**k <= n (n >= 0, k >= 1)."""
    if n < 2 or k == 1:
        return n
    if k == 2:
        return math.isqrt(n)
    if k >= n.bit_length():
        return 1
    x = 1 << -(-n.bit_length() // k)  # above the root; Newton's steps come down to it
    while True:
        y = ((k - 1) * x + n // x ** (k - 1)) // k
        if y >= x:
            return x
        x = y


def _exact_root(q: Fraction, k: int) -> Fraction | None:
    """The exact k-th root of q >= 0 when it is rational, else None."""
    num, den = _iroot(q.numerator, k), _iroot(q.denominator, k)
    if num ** k == q.numerator and den ** k == q.denominator:
        return Fraction(num, den)
    return None


_BINOPS: dict[type, Callable[[Value, Value], Value]] = {
    ast.Add: _add, ast.Sub: _sub, ast.Mult: _mul, ast.Div: _div,
    ast.FloorDiv: _floordiv, ast.Mod: _mod, ast.Pow: _pow,
}


# ---------------------------------------------------------------------------------------------
# Functions


def _positive_log_argument(x: Value) -> None:
    if x <= 0:
        raise CalculatorError("the logarithm of zero or a negative number is undefined")


def _ln(x: Value) -> Value:
    _positive_log_argument(x)
    if _is_exact(x) and x == 1:
        return Fraction(0)
    return _to_decimal(x).ln()


def _log(x: Value, base: Value | None = None) -> Value:
    if base is None:
        return _ln(x)
    _positive_log_argument(x)
    if base <= 0 or base == 1:
        raise CalculatorError("a logarithm's base must be positive and not 1")
    if _is_exact(x) and x == 1:
        return Fraction(0)
    with decimal.localcontext() as c:
        c.prec = WORK_DIGITS + GUARD_DIGITS
        ratio = _to_decimal(x).ln() / _to_decimal(base).ln()
    if isinstance(x, Fraction) and isinstance(base, Fraction):
        guess = Fraction(ratio).limit_denominator(1000)
        off = abs(Decimal(guess.numerator) / Decimal(guess.denominator) - ratio)
        if off < Decimal(10) ** -(WORK_DIGITS - GUARD_DIGITS):
            try:  # log(8, 2) = 3 and log(4, 8) = 2/3 exactly: x**q == base**p
                if _pow_exact(x, guess.denominator) == _pow_exact(base, guess.numerator):
                    return guess
            except CalculatorError:
                pass
    return +ratio


def _sqrt(x: Value) -> Value:
    if x < 0:
        raise CalculatorError("the square root of a negative number is not a real number")
    if isinstance(x, Fraction):
        root = _exact_root(x, 2)
        if root is not None:
            return root
    return _to_decimal(x).sqrt()


def _cbrt(x: Value) -> Value:
    return _pow(x, Fraction(1, 3))


def _exp(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(1)
    return _to_decimal(x).exp()


@functools.lru_cache(maxsize=16)
def _pi(digits: int) -> Decimal:
    """pi to `digits` significant digits (Machin's formula in integers)."""
    unity = 10 ** (digits + 10)

    def arctan_inverse(x: int) -> int:
        x2, term, n, sign = x * x, unity // x, 1, 1
        total = term
        while term:
            term //= x2
            n += 2
            sign = -sign
            total += sign * (term // n)
        return total

    scaled = 4 * (4 * arctan_inverse(5) - arctan_inverse(239))
    return decimal.Context(prec=digits).divide(Decimal(scaled), Decimal(unity))


def _constant_pi() -> Value:
    return +_pi(WORK_DIGITS)


def _constant_tau() -> Value:
    return 2 * _pi(WORK_DIGITS)


def _constant_e() -> Value:
    return Decimal(1).exp()


_CONSTANTS: dict[str, Callable[[], Value]] = {"pi": _constant_pi, "e": _constant_e, "tau": _constant_tau}


def _decimal_exponent(x: Value) -> int:
    """About log10 |x| (x != 0)."""
    if isinstance(x, Decimal):
        return x.adjusted()
    return int((x.numerator.bit_length() - x.denominator.bit_length()) * _LOG10_2)


def _series_sin_cos(r: Decimal) -> tuple[Decimal, Decimal]:
    """sin r and cos r by their Taylor series, |r| <= pi, in the current context."""
    results = []
    for first, start in ((r, 1), (Decimal(1), 0)):
        total, term, i = first, first, start
        while True:
            i += 2
            term = -term * r * r / (i * (i - 1))
            if total + term == total:
                break
            total += term
        results.append(total)
    return results[0], results[1]


def _sin_cos(x: Value) -> tuple[Decimal, Decimal]:
    magnitude = _decimal_exponent(x)
    if isinstance(x, Fraction) and magnitude > MAX_TRIG_MAGNITUDE:
        raise CalculatorError(f"the angle is too large (over 1e{MAX_TRIG_MAGNITUDE})")
    if isinstance(x, Decimal) and magnitude > WORK_DIGITS - GUARD_DIGITS - 20:
        raise CalculatorError("the angle is an approximate value too large to reduce accurately")
    with decimal.localcontext() as c:
        c.prec = WORK_DIGITS + GUARD_DIGITS + max(magnitude, 0)
        xd = _to_decimal(x)
        two_pi = 2 * _pi(c.prec)
        turns = (xd / two_pi).to_integral_value()
        r = xd - turns * two_pi
        c.prec = WORK_DIGITS + GUARD_DIGITS
        s, co = _series_sin_cos(+r)
    s, co = +s, +co
    if isinstance(x, Decimal):
        s, co = _noise_to_zero(s, x), _noise_to_zero(co, x)
    return s, co


def _sin(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(0)
    return _sin_cos(x)[0]


def _cos(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(1)
    return _sin_cos(x)[1]


def _tan(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(0)
    s, co = _sin_cos(x)
    if co.is_zero():
        raise CalculatorError("tan is undefined at odd multiples of pi/2")
    return s / co


def _atan_decimal(x: Decimal) -> Decimal:
    """atan x in the current context."""
    if x.is_zero():
        return Decimal(0)
    if abs(x) > 1:
        half_pi = _pi(decimal.getcontext().prec) / 2
        return (half_pi if x > 0 else -half_pi) - _atan_decimal(1 / x)
    doublings = 0
    while abs(x) > Decimal("0.1"):  # atan x = 2 atan(x / (1 + sqrt(1 + x²)))
        x = x / (1 + (1 + x * x).sqrt())
        doublings += 1
    total, term, x2, n = x, x, x * x, 1
    while True:
        term = -term * x2
        n += 2
        if total + term / n == total:
            break
        total += term / n
    return total * (2 ** doublings)


def _atan(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(0)
    with decimal.localcontext() as c:
        c.prec = WORK_DIGITS + GUARD_DIGITS
        result = _atan_decimal(_to_decimal(x))
    return +result


def _asin(x: Value) -> Value:
    if abs(x) > 1:
        raise CalculatorError("asin and acos need a value between -1 and 1")
    if _is_exact(x) and x == 0:
        return Fraction(0)
    with decimal.localcontext() as c:
        c.prec = WORK_DIGITS + GUARD_DIGITS
        xd = _to_decimal(x)
        if abs(xd) == 1:
            result = _pi(c.prec) / 2 * (1 if xd > 0 else -1)
        else:
            result = _atan_decimal(xd / (1 - xd * xd).sqrt())
    return +result


def _acos(x: Value) -> Value:
    if abs(x) > 1:
        raise CalculatorError("asin and acos need a value between -1 and 1")
    if _is_exact(x) and x == 1:
        return Fraction(0)
    with decimal.localcontext() as c:
        c.prec = WORK_DIGITS + GUARD_DIGITS
        result = _pi(c.prec) / 2 - _to_decimal(_asin(x))
    return +result


def _radians(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(0)
    return _to_decimal(x) * _pi(WORK_DIGITS + GUARD_DIGITS) / 180


def _degrees(x: Value) -> Value:
    if _is_exact(x) and x == 0:
        return Fraction(0)
    return _to_decimal(x) * 180 / _pi(WORK_DIGITS + GUARD_DIGITS)


def _snap(x: Decimal) -> Decimal:
    """An approximate value rounded to its trusted digits, so floor(sqrt(2)**2) is 2, not 1."""
    return decimal.Context(prec=WORK_DIGITS - GUARD_DIGITS, Emax=MAX_APPROX_EXPONENT,
                           Emin=-MAX_APPROX_EXPONENT).plus(x)


def _integral(x: Value, rounding: str) -> Value:
    if isinstance(x, Fraction):
        return Fraction(math.floor(x) if rounding == decimal.ROUND_FLOOR else math.ceil(x))
    snapped = _snap(x)
    if snapped.adjusted() >= WORK_DIGITS - GUARD_DIGITS:  # no fractional digits are known
        return x
    return Fraction(int(snapped.to_integral_value(rounding=rounding)))


def _floor(x: Value) -> Value:
    return _integral(x, decimal.ROUND_FLOOR)


def _ceil(x: Value) -> Value:
    return _integral(x, decimal.ROUND_CEILING)


def _whole(v: Value, name: str, *, minimum: int | None = None) -> int:
    if not isinstance(v, Fraction) or v.denominator != 1:
        raise CalculatorError(f"{name} needs a whole number")
    if minimum is not None and v < minimum:
        raise CalculatorError(f"{name} needs a whole number, {minimum} or more")
    return v.numerator


def _round(x: Value, places: Value | None = None) -> Value:
    """Halves away from zero: round(2.5) = 3, round(-2.5) = -3, round(1.25, 1) = 1.3."""
    n = 0 if places is None else _whole(places, "round's number of digits")
    if abs(n) > MAX_SHOWN_DIGITS:
        raise CalculatorError(f"round's number of digits must be between -{MAX_SHOWN_DIGITS} and {MAX_SHOWN_DIGITS}")
    if isinstance(x, Decimal):
        snapped = _snap(x)
        if snapped.is_zero():
            return Fraction(0)
        if n > WORK_DIGITS - GUARD_DIGITS - snapped.adjusted() - 1:  # more digits than are known
            return x
        x = Fraction(snapped)
    scale = Fraction(10) ** n
    scaled = _mul(x, scale)
    whole = math.floor(abs(scaled) + Fraction(1, 2))
    return _div(Fraction(whole if scaled >= 0 else -whole), scale)


def _abs(x: Value) -> Value:
    return abs(x)


def _log_gamma_bits(n: int) -> float:
    return math.lgamma(n + 1) / math.log(2)


def _factorial(x: Value) -> Value:
    n = _whole(x, "factorial", minimum=0)
    if n.bit_length() > 60:
        _check_size(float("inf"), f"{_short(x)}!")
    _check_size(_log_gamma_bits(n), f"{n}!")
    return Fraction(math.factorial(n))


def _comb_perm(n_value: Value, k_value: Value, name: str) -> Value:
    n = _whole(n_value, name, minimum=0)
    k = _whole(k_value, name, minimum=0)
    if k > n:
        return Fraction(0)
    if n.bit_length() > 60:
        bits = min(k, n - k if name == "comb" else k) * math.log2(n)
    elif name == "comb":
        bits = _log_gamma_bits(n) - _log_gamma_bits(k) - _log_gamma_bits(n - k)
    else:
        bits = _log_gamma_bits(n) - _log_gamma_bits(n - k)
    _check_size(bits, f"{name}({n}, {k})" if n.bit_length() < 64 else f"{name}(...)")
    return Fraction(math.comb(n, k) if name == "comb" else math.perm(n, k))


def _comb(n: Value, k: Value) -> Value:
    return _comb_perm(n, k, "comb")


def _perm(n: Value, k: Value) -> Value:
    return _comb_perm(n, k, "perm")


def _gcd(*values: Value) -> Value:
    return Fraction(math.gcd(*(_whole(v, "gcd") for v in values)))


def _lcm(*values: Value) -> Value:
    numbers = [_whole(v, "lcm") for v in values]
    _check_size(sum(n.bit_length() for n in numbers), "the lcm")
    return Fraction(math.lcm(*numbers))


def _min(*values: Value) -> Value:
    return min(values)  # Fraction and Decimal compare with each other exactly


def _max(*values: Value) -> Value:
    return max(values)


_FUNCTIONS: dict[str, tuple[int, int | None, Callable[..., Value]]] = {
    # name: (fewest arguments, most arguments or None, implementation)
    "sqrt": (1, 1, _sqrt), "cbrt": (1, 1, _cbrt), "exp": (1, 1, _exp),
    "ln": (1, 1, _ln), "log": (1, 2, _log),
    "log10": (1, 1, lambda x: _log(x, Fraction(10))), "log2": (1, 1, lambda x: _log(x, Fraction(2))),
    "sin": (1, 1, _sin), "cos": (1, 1, _cos), "tan": (1, 1, _tan),
    "asin": (1, 1, _asin), "acos": (1, 1, _acos), "atan": (1, 1, _atan),
    "radians": (1, 1, _radians), "degrees": (1, 1, _degrees),
    "abs": (1, 1, _abs), "round": (1, 2, _round), "floor": (1, 1, _floor), "ceil": (1, 1, _ceil),
    "factorial": (1, 1, _factorial), "comb": (2, 2, _comb), "perm": (2, 2, _perm),
    "mod": (2, 2, _mod), "gcd": (1, None, _gcd), "lcm": (1, None, _lcm),
    "min": (1, None, _min), "max": (1, None, _max),
}


# ---------------------------------------------------------------------------------------------
# Showing a result


def _format(v: Value) -> str:
    if isinstance(v, Decimal):
        return _format_approx(v)
    return _format_exact(v)


def _digit_count(n: int) -> int:
    n = abs(n)
    if n.bit_length() <= 13_000:  # well under Python's 4300-digit int→str limit
        return len(str(n))
    return Decimal(n).adjusted() + 1


def _decimal_places(d: int) -> int | None:
    """Places after the point of p/d written out, when d is 2**a * 5**b; else None."""
    twos = (d & -d).bit_length() - 1
    rest = d >> twos
    fives = 0
    if rest != 1:
        estimate = round(rest.bit_length() / math.log2(5))
        if estimate > MAX_SHOWN_DIGITS + 1:
            return None
        for k in (estimate - 1, estimate, estimate + 1):
            if k > 0 and 5 ** k == rest:
                fives = k
                break
        else:
            return None
    return max(twos, fives)


def _format_exact(q: Fraction) -> str:
    n, d = q.numerator, q.denominator
    if d == 1:
        digits = _digit_count(n)
        if digits > MAX_SHOWN_DIGITS:
            raise _too_long(q, digits)
        return str(n)
    places = _decimal_places(d)
    if places is not None:
        whole_digits = max(_digit_count(n) - _digit_count(d) + 1, 1)
        if whole_digits + places <= MAX_SHOWN_DIGITS:
            text = str(abs(n) * 10 ** places // d).rjust(places + 1, "0")
            return ("-" if n < 0 else "") + text[:-places] + "." + text[-places:]
    digits = _digit_count(n) + _digit_count(d)
    if digits > MAX_SHOWN_DIGITS:
        raise _too_long(q, digits)
    return f"{n}/{d}"


def _too_long(q: Fraction, digits: int) -> CalculatorError:
    with decimal.localcontext(_work_context()):
        approx = _format_approx(_to_decimal(q))
    return CalculatorError(f"the exact result has {digits:,} digits, too many to show; it is about {approx}")


def _format_approx(x: Decimal) -> str:
    """30 significant digits, trailing zeros trimmed; plain between 1e-7 and 1e30, else
    scientific (2.68811714181613544841262555158e+43)."""
    if x.is_zero():
        return "0"
    context = decimal.Context(prec=SHOWN_DIGITS, rounding=decimal.ROUND_HALF_EVEN,
                              Emax=MAX_APPROX_EXPONENT, Emin=-MAX_APPROX_EXPONENT)
    shown = context.plus(x).normalize(context)
    if -7 < shown.adjusted() < SHOWN_DIGITS:
        return format(shown, "f")
    return format(shown, "e")
