#!/usr/bin/env python3
"""The layout's rules, checked (src/README.md): each room includes only the rooms it may use,
has a README.md, and keeps its files under the size limit. Prints one line per rule broken
and ends with `N passed, N failed` (one case per rule and room)."""
import pathlib
import re
import sys

# Room -> the rooms its files may include (besides its own). The order is the build order.
MAY_USE = {
    'core': [],
    'go': [],
    'model': [],
    'config': ['go', 'model'],
    'net': ['core', 'go'],
    'storage': ['core', 'go', 'model'],
    'broker': ['core', 'go', 'model', 'config', 'storage'],
    'protocol': ['core', 'go', 'model', 'config', 'net', 'storage', 'broker'],
    'http': ['core', 'go', 'model', 'config', 'net', 'storage', 'broker'],
    'loops': ['core', 'go', 'model', 'config', 'net', 'storage', 'broker'],
    'node': ['core', 'go', 'model', 'config', 'net', 'storage', 'broker', 'protocol', 'http',
             'loops'],
}
MAX_LINES = 600
INCLUDE = re.compile(r'^#include "([a-z_]+)/')


def main(root):
    src = root / 'src'
    passed = failed = 0

    def case(ok, problem):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print('FAIL', problem)

    rooms = sorted(p.name for p in src.iterdir() if p.is_dir())
    case(set(rooms) == set(MAY_USE), f'rooms {rooms} differ from the rules {sorted(MAY_USE)}')
    for room in rooms:
        allowed = set(MAY_USE.get(room, [])) | {room}
        case((src / room / 'README.md').is_file(), f'src/{room} has no README.md')
        wrong, long = [], []
        for f in sorted((src / room).glob('*.[ch]pp')):
            lines = f.read_text().split('\n')
            if len(lines) > MAX_LINES:
                long.append(f'{f.relative_to(root)} ({len(lines)} lines)')
            for n, line in enumerate(lines, 1):
                m = INCLUDE.match(line)
                if m and m.group(1) not in allowed:
                    wrong.append(f'{f.relative_to(root)}:{n} includes {m.group(1)}/')
        case(not wrong, f'src/{room} may not include: ' + '; '.join(wrong))
        case(not long, f'src/{room} has files over {MAX_LINES} lines: ' + '; '.join(long))
    print(f'{passed} passed, {failed} failed')
    return 0 if failed == 0 else 1


if __name__ == '__main__':
    sys.exit(main(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else '.').resolve()))
