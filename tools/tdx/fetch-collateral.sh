#!/bin/sh
# tools/tdx/fetch-collateral.sh — downloads Intel DCAP collateral for TDX quotes (spec 60 §6.1) from
# Intel PCS, or from a PCCS, into a directory: the pieces mk_tdx_collateral_from_pcs turns into the
# collateral JSON a trust takes (docs/tdx.md, "Collateral"). The library itself never touches the network.
#
#   tools/tdx/fetch-collateral.sh FMSPC [OUTDIR]          FMSPC: 12 hex digits (from the PCK certificate)
#   PCS_URL=https://pccs.example:8081 tools/tdx/fetch-collateral.sh …    (a PCCS instead of Intel PCS)
#   PCK_CA=processor …                                    (the PCK CRL of the Processor CA; default platform)
#
# Writes OUTDIR (default ./collateral): tcb_info.json + tcb_info.chain, qe_identity.json +
# qe_identity.chain, pck_crl.der + pck_crl.chain, root_ca_crl.der. Chains are the URL-encoded PEM of the
# response headers, as served. Needs curl. Collateral changes about monthly: refresh it before the
# earliest nextUpdate (the verifier's report gives valid_until_s) and swap it in with
# mk_tdx_trust_set_collateral.
set -eu
[ $# -ge 1 ] || { sed -n '2,13p' "$0" >&2; exit 2; }
fmspc=$1
out=${2:-collateral}
case $fmspc in
  [0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F][0-9a-fA-F]) ;;
  *) echo "fetch-collateral: FMSPC must be 12 hex digits, got '$fmspc'" >&2; exit 2 ;;
esac
base=${PCS_URL:-https://api.trustedservices.intel.com}
ca=${PCK_CA:-platform}
root_crl_url=${ROOT_CRL_URL:-https://certificates.trustedservices.intel.com/IntelSGXRootCA.der}
command -v curl >/dev/null || { echo "fetch-collateral: curl is needed" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# fetch URL BODY_FILE [HEADER_NAME CHAIN_FILE]
fetch() {
  curl -fsS --retry 3 -D "$tmp/headers" -o "$2" "$1" || { echo "fetch-collateral: GET $1 failed" >&2; exit 1; }
  if [ $# -ge 4 ]; then
    # header names are case-insensitive; the value is URL-encoded PEM (kept as served)
    v=$(tr -d '\r' < "$tmp/headers" | awk -v h="$3" 'BEGIN { h = tolower(h) ":" }
        tolower(substr($0, 1, length(h))) == h { sub(/^[^:]*:[ \t]*/, ""); print; exit }')
    [ -n "$v" ] || { echo "fetch-collateral: $1 sent no $3 header" >&2; exit 1; }
    printf '%s' "$v" > "$4"
  fi
}

fetch "$base/tdx/certification/v4/tcb?fmspc=$fmspc" "$out/tcb_info.json" TCB-Info-Issuer-Chain "$out/tcb_info.chain"
fetch "$base/tdx/certification/v4/qe/identity" "$out/qe_identity.json" \
      SGX-Enclave-Identity-Issuer-Chain "$out/qe_identity.chain"
fetch "$base/sgx/certification/v4/pckcrl?ca=$ca&encoding=der" "$out/pck_crl.der" \
      SGX-PCK-CRL-Issuer-Chain "$out/pck_crl.chain"
fetch "$root_crl_url" "$out/root_ca_crl.der"
echo "fetch-collateral: wrote $out/{tcb_info,qe_identity}.{json,chain} pck_crl.{der,chain} root_ca_crl.der"
