"""Tables printed whole: a number is never cut to ``18/1…`` because the output is piped.

Rich sizes a console that is not a terminal at 80 columns (or ``$COLUMNS``) and shrinks a wider table by
ellipsizing cells. Piped output goes to a file or another program, where a long line costs nothing and a cut
figure is wrong, so there the table gets the width it needs. On a terminal Rich's own fitting stays.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.measure import Measurement


def print_uncut(console: Console, renderable: RenderableType) -> None:
    """Print ``renderable``; off a terminal, at least as wide as its widest line needs."""
    if console.is_terminal:
        console.print(renderable)
        return
    needed = Measurement.get(console, console.options.update_width(10_000), renderable).maximum
    if needed <= console.width:
        console.print(renderable)
        return
    # Console.print caps ``width`` at the console's own; a console of the needed width writes the same file.
    Console(file=console.file, width=needed, stderr=console.stderr).print(renderable)
