"""TeX formulas of the notebooks as MathML, for HTML reports that need no network.

Why MathML written at export time, and not a copy of MathJax beside each report:
every current browser (Firefox, Chrome and Edge since 109, Safari) draws MathML
itself, so a formula costs a few hundred bytes in the page and needs no script,
no font download and no folder of assets next to the HTML. MathJax 2, which
nbconvert loads from a CDN, is a few megabytes of scripts and web fonts that
would have to travel with every report (and loads its parts by URL at run time,
which browsers restrict for ``file://`` pages). The conversion is done by
``latex2mathml`` (pure Python); a command it does not know stops the export with
the formula in the message, rather than showing raw TeX in the report.
"""
from __future__ import annotations

import re

from latex2mathml.converter import convert

# latex2mathml lays out split/align as a right/left table but does not know
# ``aligned``, which draws the same inside $$...$$; MathJax treats them alike.
_ENVIRONMENT_ALIASES = {"aligned": "split", "aligned*": "split"}
_ENVIRONMENT = re.compile(r"\\(begin|end)\{(aligned\*?)\}")
# A command latex2mathml does not know is copied verbatim into a token element.
_UNKNOWN_COMMAND = re.compile(r"<m(?:i|o|n|text)(?: [^>]*)?>(\\[A-Za-z]+)")
# \log, \exp, \max ... come out as <mi>log</mi>; TeX puts a thin space between such an operator and
# what follows unless that is an opening bracket (log D(x), but log(x)). Browsers add none by themselves.
_OPERATOR_NAME = re.compile(r"(<mi>[a-z]{2,}</mi>)(?!<mo[^>]*>[(\[{|])(?=<m)")
_ENTITY = re.compile(r"&#x([0-9A-Fa-f]+);")
_KEEP_ESCAPED = {"<", ">", "&", '"', "'"}


class FormulaError(ValueError):
    """A TeX formula that cannot be written as MathML."""


def _literal_characters(mathml: str) -> str:
    """``&#x0003D;`` -> ``=``: the page is UTF-8, so only markup characters stay escaped (and the file shrinks)."""
    def char(match: re.Match) -> str:
        text = chr(int(match.group(1), 16))
        return match.group(0) if text in _KEEP_ESCAPED else text
    return _ENTITY.sub(char, mathml)


def tex_to_mathml(tex: str, display: bool) -> str:
    """One formula (without its ``$`` delimiters) as a ``<math>`` element; ``display`` for ``$$...$$``."""
    source = _ENVIRONMENT.sub(lambda m: f"\\{m.group(1)}{{{_ENVIRONMENT_ALIASES[m.group(2)]}}}", tex)
    try:
        mathml = convert(source, display="block" if display else "inline")
    except Exception as error:  # latex2mathml raises many kinds (unbalanced braces, missing arguments, ...)
        raise FormulaError(f"cannot write the formula {tex!r} as MathML ({type(error).__name__}: {error}); "
                           "check its braces and arguments") from error
    unknown = _UNKNOWN_COMMAND.search(mathml)
    if unknown:
        raise FormulaError(f"the formula {tex!r} uses {unknown.group(1)}, which latex2mathml cannot draw; "
                           "write it with standard LaTeX commands (macros such as \\newcommand are not expanded)")
    # HTML5 puts <math> in the MathML namespace by itself: the xmlns URL is dead weight.
    mathml = mathml.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "", 1)
    return _OPERATOR_NAME.sub(r'\1<mspace width="0.167em"/>', _literal_characters(mathml))

