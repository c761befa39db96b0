#!/usr/bin/env python3
"""The house's layout, kept: README.md's layout table says which room may include which, and
this check fails on any `#include "room/..."` the table does not allow, and on any include
cycle between the headers of one room. Run from CTest (layout_is_kept)."""
import pathlib, re, sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.')
readme = (root / 'README.md').read_text()
section = readme.split('\n## Layout\n', 1)[1].split('\n## ', 1)[0]
allowed = {}
for row in section.splitlines():
    cells = [c.strip() for c in row.strip().strip('|').split('|')]
    m = re.fullmatch(r'`([a-z_]+)/`', cells[0]) if len(cells) >= 3 else None
    if not m:
        continue
    deps = cells[-1]
    allowed[m.group(1)] = None if deps == 'everything' else set(re.findall(r'`([a-z_]+)/`', deps))

include = re.compile(r'^\s*#\s*include\s+"([a-z_]+)/([^"]+)"', re.M)
problems = []
for room, may in allowed.items():
    headers = {}
    for f in sorted((root / room).glob('*.[ch]pp')):
        for other, name in include.findall(f.read_text()):
            if other != room and may is not None and other not in may:
                problems.append(f'{room}/{f.name} includes {other}/{name}: README allows {room}/ '
                                f'only {", ".join(sorted(may)) or "nothing of the project"}')
            if other == room and f.suffix == '.hpp':
                headers.setdefault(f.name, set()).add(name)
    # A cycle among one room's headers: depth-first search with colours.
    state = {}
    def visit(h, path):
        state[h] = 'open'
        for n in sorted(headers.get(h, ())):
            if state.get(n) == 'open':
                problems.append(f'{room}/: include cycle ' + ' -> '.join(path + [h, n]))
            elif n not in state:
                visit(n, path + [h])
        state[h] = 'done'
    for h in sorted(headers):
        if h not in state:
            visit(h, [])
    # A .cpp including its own room's header that includes the .cpp's other half is fine;
    # what matters for cycles between two files is also a .cpp pair: a.cpp->b.hpp and b.cpp->a.hpp.
    pairs = {}
    for f in (root / room).glob('*.cpp'):
        pairs[f.stem] = {pathlib.Path(n).stem for o, n in include.findall(f.read_text()) if o == room}
    for a, bs in pairs.items():
        for b in bs:
            if b != a and a in pairs.get(b, ()) and a < b:
                problems.append(f'{room}/: {a} and {b} include each other')

if not allowed:
    problems.append('README.md has no layout table under "## Layout"')
for p in problems:
    print(p)
print(f'layout: {len(allowed)} rooms checked, {len(problems)} problems')
sys.exit(1 if problems else 0)
