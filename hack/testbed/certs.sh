#!/usr/bin/env bash
# Generates the testbed PKI and kubeconfigs under $TESTBED_DIR/pki:
#   ca.{crt,key}                       cluster CA (also signs CSRs in the controller-manager)
#   apiserver.{crt,key}                serving cert: 127.0.0.1, localhost, kubernetes.default.svc, 10.0.0.1
#   admin.{crt,key}                    CN=testbed-admin, O=system:masters
#   kube-controller-manager.{crt,key}  CN=system:kube-controller-manager
#   kube-scheduler.{crt,key}           CN=system:kube-scheduler
#   kwok.{crt,key}                     CN=testbed-kwok (bound to cluster-admin by up.sh)
#   webhook-serving.{crt,key}          serving cert for the tests' admission webhooks: 127.0.0.1
#   sa.{key,pub}                       service-account token signing key pair
# and $TESTBED_DIR/kubeconfig (admin) plus one kubeconfig per component.
# Existing files are kept.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PKI="${TESTBED_DIR}/pki"
mkdir -p "$PKI"
chmod 700 "$PKI"
umask 077

# ECDSA P-256 for the CA and the TLS certs (fast to generate); RSA for the
# service-account signing key (RS256 tokens, accepted by every client).
new_key() { [[ -f "$1" ]] || openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
new_rsa_key() { [[ -f "$1" ]] || openssl genrsa -out "$1" 2048 2>/dev/null; }

if [[ ! -f "$PKI/ca.crt" ]]; then
  new_key "$PKI/ca.key"
  openssl req -x509 -new -key "$PKI/ca.key" -sha256 -days 3650 \
    -subj "/CN=dontpanic-testbed-ca" \
    -addext "basicConstraints=critical,CA:TRUE" \
    -addext "keyUsage=critical,keyCertSign,cRLSign,digitalSignature" \
    -addext "subjectKeyIdentifier=hash" \
    -out "$PKI/ca.crt"
fi

# sign NAME SUBJECT EXTENDED_KEY_USAGE [SAN]
sign() {
  local name="$1" subj="$2" eku="$3" san="${4:-}" ext
  [[ -f "$PKI/$name.crt" ]] && return 0
  new_key "$PKI/$name.key"
  ext="$(mktemp)"
  {
    echo "basicConstraints=critical,CA:FALSE"
    echo "keyUsage=critical,digitalSignature"
    echo "extendedKeyUsage=$eku"
    echo "subjectKeyIdentifier=hash"
    echo "authorityKeyIdentifier=keyid"
    if [[ -n "$san" ]]; then echo "subjectAltName=$san"; fi
  } >"$ext"
  openssl req -new -key "$PKI/$name.key" -subj "$subj" -out "$PKI/$name.csr"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" \
    -CAcreateserial -sha256 -days 825 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$ext" "$PKI/$name.csr"
}

sign apiserver "/CN=kube-apiserver" serverAuth \
  "IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
sign admin "/O=system:masters/CN=testbed-admin" clientAuth
sign kube-controller-manager "/CN=system:kube-controller-manager" clientAuth
sign kube-scheduler "/CN=system:kube-scheduler" clientAuth
sign kwok "/CN=testbed-kwok" clientAuth
# Serving certs for the controller-manager's and scheduler's own secure ports.
sign kube-controller-manager-serving "/CN=kube-controller-manager" serverAuth "IP:127.0.0.1,DNS:localhost"
sign kube-scheduler-serving "/CN=kube-scheduler" serverAuth "IP:127.0.0.1,DNS:localhost"
# Serving cert for admission webhooks the tests run on loopback (admission_faults.py).
sign webhook-serving "/CN=testbed-webhook" serverAuth "IP:127.0.0.1,DNS:localhost"

if [[ ! -f "$PKI/sa.pub" ]]; then
  new_rsa_key "$PKI/sa.key"
  openssl rsa -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
fi

b64() { base64 -w0 <"$1"; }

# kubeconfig FILE USER CERTNAME
kubeconfig() {
  local file="$1" user="$2" cert="$3"
  cat >"$file" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: testbed
  cluster:
    server: https://127.0.0.1:${APISERVER_PORT}
    certificate-authority-data: $(b64 "$PKI/ca.crt")
users:
- name: ${user}
  user:
    client-certificate-data: $(b64 "$PKI/$cert.crt")
    client-key-data: $(b64 "$PKI/$cert.key")
contexts:
- name: testbed
  context:
    cluster: testbed
    user: ${user}
    namespace: default
current-context: testbed
EOF
}

kubeconfig "${TESTBED_DIR}/kubeconfig" testbed-admin admin
kubeconfig "$PKI/kube-controller-manager.kubeconfig" system:kube-controller-manager kube-controller-manager
kubeconfig "$PKI/kube-scheduler.kubeconfig" system:kube-scheduler kube-scheduler
kubeconfig "$PKI/kwok.kubeconfig" testbed-kwok kwok
chmod 600 "${TESTBED_DIR}/kubeconfig"
