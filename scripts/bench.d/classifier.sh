#!/usr/bin/env bash
# Classifier quality on a team's own categories: 200 labelled tickets (tests/data/router/team_200.tsv,
# 50 each of 技术咨询/售后投诉/咨询反馈/售后咨询), a stratified fifth held out, the product's model and the
# standard baseline (character n-gram TF-IDF + linear SVM) trained on the same rest and scored on the
# same held-out fifth. Prints name=value lines (product_macro_f1, baseline_macro_f1, per-class lines).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo run -q -p loopdesk-router --bin router -- compare \
    --examples tests/data/router/team_200.tsv --label-column category
