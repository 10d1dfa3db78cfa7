#!/bin/sh
# hdhooks shim: all logic lives in the installed hdhooks package (see README).
exec "${HDHOOKS:-hdhooks}" hook --bundle "${0%/*}/.."
