#!/usr/bin/env bash
# Counts the words on standard input.
set -eu
wc -w | tr -d ' '
