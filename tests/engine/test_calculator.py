"""The model asks the calculator: exact answers for what it would get wrong in its head, a clear
refusal (never a hang, a crash or code run) for anything else."""
from __future__ import annotations

import ast
import contextlib
import decimal
import math
import signal
import time
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import engine.tools.calculator as calculator_module
from engine.cancel import Cancel
from engine.tools.base import ToolResult
from engine.tools.calculator import Calculator, CalculatorError, evaluate

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Hung(BaseException):
    """Raised by the guard; a BaseException so that `run`'s own `except Exception` cannot hide it."""


@contextlib.contextmanager
def no_hang(seconds: float = 10.0):
    """Fail (raise Hung) when the block is still running after `seconds`: a hang becomes a test
    failure. No duration is asserted. An outer SIGALRM timer (pytest-timeout's) is put back."""
    def alarm(signum, frame):
        raise Hung(f"still running after {seconds} s")

    started = time.monotonic()
    old_handler = signal.signal(signal.SIGALRM, alarm)
    old_delay, old_interval = signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL, max(old_delay - (time.monotonic() - started), 0.001), old_interval)


def refusal(expression: str) -> str:
    with no_hang():
        with pytest.raises(CalculatorError) as caught:
            evaluate(expression)
    reason = str(caught.value)
    assert reason.strip(), f"{expression!r} was refused without a reason"
    return reason


# --- stories: what the model asks, what it gets back ---------------------------------------

STORIES = [
    # big integers stay exact and plain
    ("2**100", "1267650600228229401496703205376"),
    ("2^100", "1267650600228229401496703205376"),
    ("123456789 * 987654321", "121932631112635269"),
    ("20!", "2432902008176640000"),
    ("factorial(25)", "15511210043330985984000000"),
    ("-2**2", "-4"),
    ("(-2)**2", "4"),
    ("2**3**2", "512"),
    ("2**-1", "0.5"),
    # fractions and decimals
    ("1/3", "1/3"),
    ("2/6", "1/3"),
    ("-2/3", "-2/3"),
    ("1/8", "0.125"),
    ("0.1 + 0.2", "0.3"),
    ("-7/4", "-1.75"),
    ("1/3 * 3", "1"),
    ("1/7 + 1/7", "2/7"),
    ("3.50 * 2", "7"),
    ("1e-5", "0.00001"),
    ("2.5e3", "2500"),
    ("10**-30", "0.000000000000000000000000000001"),
    (".5 + 5.", "5.5"),
    ("7 // 2", "3"),
    ("-7 // 2", "-4"),
    # roots, logs, exponentials: exact where the answer is rational
    ("sqrt(16)", "4"),
    ("sqrt(9/4)", "1.5"),
    ("sqrt(0.25)", "0.5"),
    ("sqrt(2)", "1.41421356237309504880168872421"),
    ("√2", "1.41421356237309504880168872421"),
    ("2**0.5", "1.41421356237309504880168872421"),
    ("8**(1/3)", "2"),
    ("(-8)**(1/3)", "-2"),
    ("cbrt(27)", "3"),
    ("cbrt(2)", "1.25992104989487316476721060728"),
    ("4**1.5", "8"),
    ("log(8, 2)", "3"),
    ("log2(1024)", "10"),
    ("log10(1000)", "3"),
    ("log10(0.001)", "-3"),
    ("log(4, 8)", "2/3"),
    ("log(1)", "0"),
    ("ln(e)", "1"),
    ("log(10)", "2.30258509299404568401799145468"),
    ("exp(0)", "1"),
    ("exp(1)", "2.71828182845904523536028747135"),
    ("exp(100)", "2.68811714181613544841262555158e+43"),
    ("exp(-20)", "2.06115362243855782796594038016e-9"),
    # trigonometry in radians, constants
    ("pi", "3.14159265358979323846264338328"),
    ("π", "3.14159265358979323846264338328"),
    ("tau", "6.28318530717958647692528676656"),
    ("e", "2.71828182845904523536028747135"),
    ("sin(0)", "0"),
    ("cos(0)", "1"),
    ("sin(pi)", "0"),
    ("cos(pi)", "-1"),
    ("sin(pi/6)", "0.5"),
    ("cos(pi/3)", "0.5"),
    ("tan(pi/4)", "1"),
    ("sin(1)", "0.84147098480789650665250232163"),
    ("asin(1)", "1.57079632679489661923132169164"),
    ("acos(1)", "0"),
    ("acos(-1)", "3.14159265358979323846264338328"),
    ("atan(1) * 4", "3.14159265358979323846264338328"),
    ("degrees(pi)", "180"),
    ("radians(180)", "3.14159265358979323846264338328"),
    ("sin(radians(30))", "0.5"),
    # approximate noise does not leak into exact-looking answers
    ("sqrt(2)**2 - 2", "0"),
    ("sqrt(2)**2", "2"),
    ("floor(sqrt(2)**2)", "2"),
    # percentages: `a ± b%` changes a by b percent; elsewhere b% is b/100
    ("15% of 80", "12"),
    ("80 * 15%", "12"),
    ("50%", "0.5"),
    ("120 + 10%", "132"),
    ("120 - 10%", "108"),
    ("100 + 20 + 10%", "132"),
    ("120 + 10% of 50", "125"),
    ("200 * (1 + 5%)", "210"),
    ("12.5%", "0.125"),
    # remainders
    ("17 % 5", "2"),
    ("17 mod 5", "2"),
    ("mod(17, 5)", "2"),
    ("-7 % 3", "2"),
    ("17 mod -5", "-3"),
    ("7.5 % 2", "1.5"),
    # factorials bind tighter than powers and unary minus
    ("5!", "120"),
    ("3!!", "720"),
    ("-3!", "-6"),
    ("2**3!", "64"),
    ("(2+1)!", "6"),
    ("0!", "1"),
    # rounding and friends
    ("round(2.5)", "3"),
    ("round(-2.5)", "-3"),
    ("round(2.567, 2)", "2.57"),
    ("round(1234, -2)", "1200"),
    ("round(pi, 4)", "3.1416"),
    ("floor(-2.5)", "-3"),
    ("ceil(2.1)", "3"),
    ("abs(-3/4)", "0.75"),
    ("comb(52, 5)", "2598960"),
    ("perm(5, 2)", "20"),
    ("gcd(12, 18)", "6"),
    ("lcm(4, 6)", "12"),
    ("max(1/3, 0.3)", "1/3"),
    ("min(2, pi, 4)", "2"),
    # notation the model or a user might paste
    ("1,000,000 * 3", "3000000"),
    ("1,234.5 + 0.5", "1235"),
    ("(1,000 + 1) * 2", "2002"),
    ("round(2.567,2)", "2.57"),
    ("2 × 3 ÷ 4", "1.5"),
    ("3²", "9"),
    ("5 − 7", "-2"),
    ("2 + 2 =", "4"),
    ("  (1 +\n 2)  ", "3"),
    ("0x10 + 0b11", "19"),
    ("1_000 + 1", "1001"),
]


@pytest.mark.parametrize(("expression", "expected"), STORIES)
def test_the_model_gets_the_exact_answer(expression: str, expected: str) -> None:
    with no_hang():
        assert evaluate(expression) == expected


def test_a_very_long_sum_is_not_too_deep() -> None:
    with no_hang():
        assert evaluate("+".join(["1"] * 900)) == "900"


def test_a_thousand_digit_result_comes_back_whole() -> None:
    with no_hang():
        text = evaluate("2**10000")
    assert text == str(2**10000) and len(text) == 3011


# --- properties against fractions.Fraction -------------------------------------------------

def render(q: Fraction) -> str:
    if q.denominator == 1:
        return f"({q.numerator})" if q < 0 else str(q.numerator)
    return f"({q.numerator}/{q.denominator})"


def shown(q: Fraction) -> str:
    """How an exact value must be shown, computed independently of the calculator."""
    if q.denominator == 1:
        return str(q.numerator)
    d = q.denominator
    while d % 2 == 0:
        d //= 2
    while d % 5 == 0:
        d //= 5
    if d != 1:
        return f"{q.numerator}/{q.denominator}"
    with decimal.localcontext() as c:
        c.prec = 1000
        value = (decimal.Decimal(q.numerator) / decimal.Decimal(q.denominator)).normalize()
    return format(value, "f")


numbers = st.one_of(st.integers(-60, 60).map(Fraction),
                    st.fractions(min_value=-20, max_value=20, max_denominator=12))
leaves = numbers.map(lambda q: (render(q), q))


def binary(parts):
    (left_text, left), op, (right_text, right) = parts
    text = f"({left_text} {op} {right_text})"
    if left is None or right is None:
        return text, None
    if op == "+":
        return text, left + right
    if op == "-":
        return text, left - right
    if op == "*":
        return text, left * right
    return text, (None if right == 0 else left / right)


def power(parts):
    (base_text, base), sign, exponent = parts
    text = f"({base_text}{sign}({exponent}))"
    if base is None or (base == 0 and exponent < 0):
        return text, None
    return text, base ** exponent


expressions = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.tuples(children, st.sampled_from("+-*/"), children).map(binary),
        st.tuples(children, st.sampled_from(["**", "^"]), st.integers(-3, 3)).map(power)),
    max_leaves=8)


@FUZZ
@given(expressions)
def test_exact_arithmetic_matches_fractions(case) -> None:
    text, expected = case
    with no_hang():
        if expected is None:
            with pytest.raises(CalculatorError, match="division by zero"):
                evaluate(text)
        else:
            assert evaluate(text) == shown(expected)


@FUZZ
@given(st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
       st.decimals(min_value=-10**6, max_value=10**6, places=3, allow_nan=False, allow_infinity=False))
def test_decimal_numbers_are_exact(a, b) -> None:
    text = f"{format(a, 'f')} + {format(b, 'f')} * 3"
    with no_hang():
        assert evaluate(text) == shown(Fraction(a) + Fraction(b) * 3)


@FUZZ
@given(st.integers(0, 10**18))
def test_thousands_separators_group_a_whole_number(n: int) -> None:
    with no_hang():
        assert evaluate(f"{n:,}") == str(n)
        assert evaluate(f"-{n:,} + 1") == str(-n + 1)


@FUZZ
@given(st.fractions(min_value=0, max_value=10**6, max_denominator=10**4))
def test_a_perfect_square_has_an_exact_root(q: Fraction) -> None:
    with no_hang():
        assert evaluate(f"sqrt({q.numerator**2}/{q.denominator**2})") == shown(q)


@FUZZ
@given(st.floats(min_value=1e-3, max_value=1e3), st.sampled_from(["sqrt", "ln", "exp", "sin", "cos", "atan", "tan"]))
def test_irrational_functions_agree_with_math(x: float, name: str) -> None:
    if name == "exp":
        x = x / 10
    reference = {"sqrt": math.sqrt, "ln": math.log, "exp": math.exp, "sin": math.sin,
                 "cos": math.cos, "atan": math.atan, "tan": math.tan}[name](x)
    exact = Fraction(x)  # the float's exact value, so both sides see the same argument
    with no_hang():
        got = float(evaluate(f"{name}({exact.numerator}/{exact.denominator})"))
    assert math.isclose(got, reference, rel_tol=1e-12, abs_tol=1e-15)


def test_approximate_results_show_thirty_significant_digits_at_most() -> None:
    with no_hang():
        for expression in ("sqrt(3)", "ln(7)", "1/pi", "exp(50)", "sin(2)", "pi * 1e40", "pi / 1e40"):
            text = evaluate(expression)
            mantissa = text.split("e")[0].lstrip("-").replace(".", "").lstrip("0")
            assert 1 <= len(mantissa) <= 30, (expression, text)


# --- bounds: refused at once, never a hang or a MemoryError ----------------------------------

TOO_BIG = [
    "9**9**9",
    "9^9^9",
    "100000!",
    "factorial(10**100)",
    "2**2**2**2**2**2",
    "10**(10**10)",
    "(2**99999) * (2**99999)",
    "(1/3)**(10**9)",
    "comb(10**6, 5*10**5)",
    "perm(10**18, 10**9)",
    "1e999999999",
    "lcm(2**60000, 3**40000)",
    "exp(10**7)",
    "pi**(10**30)",
    "sin(10**2000)",
]


@pytest.mark.timeout(120, method="thread")  # backstop: a hang inside C code ends the run
@pytest.mark.parametrize("expression", TOO_BIG)
def test_a_result_too_large_is_refused_quickly(expression: str) -> None:
    reason = refusal(expression)
    assert "too large" in reason or "limit" in reason, reason


@pytest.mark.timeout(120, method="thread")
def test_a_result_too_long_to_show_says_about_how_big_it_is() -> None:
    reason = refusal("2**100000")
    assert "30,103 digits" in reason and "9.99002093014384507944032764" in reason


@pytest.mark.timeout(120, method="thread")
@pytest.mark.parametrize("expression", [
    "(" * 300 + "1" + ")" * 300,
    "-" * 1500 + "1",
    "2**" * 150 + "2",
    "sqrt(" * 150 + "2" + ")" * 150,
    "1+" * 1200 + "1",          # too long
    "9" * 5000,                 # too long
])
def test_deep_or_long_input_is_refused(expression: str) -> None:
    reason = refusal(expression)
    assert "deep" in reason or "long" in reason or "large" in reason, reason


# --- hostile input: refused, never run ------------------------------------------------------

HOSTILE = [
    "__import__('os').system('x')",
    "().__class__",
    "().__class__.__bases__[0].__subclasses__()",
    "open('/etc/passwd')",
    "lambda: 1",
    "[x for x in range(10**9)]",
    "(x for x in range(10**9))",
    "{1: 2}",
    "os",
    "os.system('x')",
    "eval('1+1')",
    "exec('x=1')",
    "compile('1', 'f', 'eval')",
    "globals()",
    "'a' * 10**9",
    "b'abc'",
    "f'{1+1}'",
    "(y := 5)",
    "1 if True else 2",
    "1 < 2",
    "1 and 2",
    "not 1",
    "~1",
    "1 << 10000000",
    "x[0]",
    "sqrt(*[4])",
    "round(2.5, ndigits=1)",
    "True + 1",
    "1j * 1j",
    "import os",
    "print(1)",
    "sqrt.__call__(4)",
    "ｏｐｅｎ('x')",
    "1, 2",
    "",
    "   ",
    "=",
    "2 +",
    "(1 + 2",
    "1 2",
    "1if 1 else 2",
    "2or 3",
    "\x00",
]


@pytest.mark.timeout(120, method="thread")
@pytest.mark.filterwarnings("error::SyntaxWarning")
@pytest.mark.parametrize("expression", HOSTILE)
def test_hostile_or_broken_input_is_refused_with_a_reason(expression: str) -> None:
    refusal(expression)


def test_refusals_name_the_problem() -> None:
    assert "unknown name '__import__'" in refusal("__import__('os').system('x')")
    assert "attribute" in refusal("().__class__")
    assert "unknown function 'open'" in refusal("open('/etc/passwd')")
    assert "lambda" in refusal("lambda: 1")
    assert "comprehension" in refusal("[x for x in range(10**9)]")
    assert "unknown name 'os'" in refusal("os")
    assert "division by zero" in refusal("1/0")
    assert "division by zero" in refusal("0**-1")
    assert "division by zero" in refusal("5 % 0")
    assert "not a real number" in refusal("sqrt(-1)")
    assert "not a real number" in refusal("(-8)**(1/2)")
    assert "logarithm" in refusal("log(0)")
    assert "between -1 and 1" in refusal("asin(2)")
    assert "tan is undefined" in refusal("tan(pi/2)")
    assert "whole number" in refusal("2.5!")
    assert "whole number" in refusal("(-1)!")
    assert "comma" in refusal("3,5")
    assert "1000000" in refusal("sqrt(1,000,000)")
    assert "ambiguous" in refusal("17 % -5")
    assert "2*pi" in refusal("2pi")
    assert "text" in refusal("'a' * 3")


def test_nothing_hostile_has_an_effect(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    for expression in (f"__import__('os').system('touch {marker}')",
                       f"open('{marker}', 'w')",
                       f"().__class__.__base__.__subclasses__()[0]('{marker}')"):
        refusal(expression)
    assert not marker.exists()


def test_the_calculator_never_compiles_or_evaluates_text() -> None:
    tree = ast.parse(Path(calculator_module.__file__).read_text(encoding="utf-8"))
    called = {node.func.id for node in ast.walk(tree)
              if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)}
    assert not called & {"eval", "exec", "compile", "__import__", "getattr"}


# --- the tool ---------------------------------------------------------------------------------

def test_the_tool_tells_the_model_what_it_takes() -> None:
    spec = Calculator().spec
    assert spec.name == "calculator"
    assert spec.parameters["required"] == ["expression"]
    assert spec.parameters["properties"]["expression"]["type"] == "string"
    assert spec.parameters["properties"]["expression"]["description"]
    for word in ("exact", "sqrt", "%", "factorial", "radians"):
        assert word in spec.description.lower() or word in spec.description
    assert spec.openai_tool()["function"]["name"] == "calculator"


def test_run_answers_and_explains_refusals() -> None:
    tool = Calculator()
    with no_hang():
        good = tool.run({"expression": "2**100"}, Cancel())
        bad = tool.run({"expression": "1/0"}, Cancel())
    assert isinstance(good, ToolResult)
    assert (good.ok, good.text, good.truncated) == (True, "1267650600228229401496703205376", False)
    assert good.elapsed_s >= 0
    assert (bad.ok, bad.text) == (False, "division by zero")


@pytest.mark.parametrize(("arguments", "ok", "text"), [
    ({}, False, "expression"),
    ({"expr": "1+1"}, False, "expression"),
    ({"expression": None}, False, "text"),
    ({"expression": ["1"]}, False, "text"),
    ({"expression": True}, False, "text"),
    ({"expression": 42}, True, "42"),
    ({"expression": 0.5}, True, "0.5"),
    ({"expression": "6*7", "extra": 1}, True, "42"),
    (None, False, "expression"),
    ("2+2", False, "expression"),
])
def test_run_copes_with_whatever_arguments_arrive(arguments, ok: bool, text: str) -> None:
    result = Calculator().run(arguments, Cancel())  # type: ignore[arg-type]
    assert result.ok is ok and text in result.text


def test_a_cancelled_call_stops() -> None:
    cancel = Cancel()
    cancel.cancel()
    result = Calculator().run({"expression": "1+1"}, cancel)
    assert result.ok is False and "cancel" in result.text

    calls = []

    def stop_after_a_few() -> bool:
        calls.append(1)
        return len(calls) > 5

    with pytest.raises(CalculatorError, match="cancel"):
        evaluate(" + ".join(["1"] * 50), stop=stop_after_a_few)


@pytest.mark.timeout(300, method="thread")
@pytest.mark.filterwarnings("error::SyntaxWarning")  # nothing reaches Python's own parser warnings
@FUZZ
@given(st.text(alphabet="0123456789+-*/^%!()., e_sqrtpilogfacmdx[]'\"×÷√²", max_size=40))
def test_run_never_raises_on_calculator_like_text(text: str) -> None:
    with no_hang():
        result = Calculator().run({"expression": text}, Cancel())
    assert isinstance(result, ToolResult) and isinstance(result.text, str) and result.text
    if result.ok:
        assert result.text.lstrip("-")[:1].isdigit(), (text, result.text)


@FUZZ
@given(st.one_of(st.none(), st.integers(), st.floats(), st.text(max_size=30),
                 st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=12), st.one_of(st.none(), st.integers(), st.floats(),
                                                                 st.text(max_size=30)), max_size=3)))
def test_run_never_raises_on_any_arguments(arguments) -> None:
    with no_hang():
        result = Calculator().run(arguments, Cancel())
    assert isinstance(result, ToolResult) and result.text
