#!/usr/bin/env bash
# Cross-border e-commerce (跨境电商) end to end on a new data folder, as README's section "Cross-border
# e-commerce: CEB messages and 三单对碰" shows: the administrator registers five enterprises for
# their CEB roles with SM2 signing certificates, the agent's tax guarantee and the sample tariff;
# then the platform, the payment enterprise, the logistics enterprise and the declaring agent
# each sign and send their message (CEB311, CEB411, CEB511, CEB621: the list first, so it waits
# for the last document) and the receipts are printed, with the list's state and its tax bill.
#
#   examples/ceb/flow.sh [DATA] [PORT]      (customs on PATH, or CUSTOMS=target/release/customs)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
data=${1:-ceb-demo}
port=${2:-8091}
customs=${CUSTOMS:-customs}
url="http://127.0.0.1:$port"
keys="$data-keys"
if [ -e "$data" ]; then echo "$data exists: give a new folder" >&2; exit 1; fi
c() { "$customs" --data "$data" "$@"; }

export CUSTOMS_TOKEN
CUSTOMS_TOKEN=$(c admin init --name root)
c tariff import "$root/crates/tariff/sample_release_cn_2026" --label "2026 sample" >/dev/null
c tariff activate TR-0001 --from 2026-01-01 >/dev/null
c rates import "$root/crates/tariff/sample_release_cn_2026" >/dev/null
c rates activate XR-0001 --from 2026-01-01 >/dev/null

# customs code, credit code, name, CEB role, the user that sends for it (the codes the messages name).
declare -A token
while read -r code credit role user name; do
  c admin enterprise --credit-code "$credit" --customs-code "$code" --name "$name" >/dev/null
  c admin ceb-enterprise --customs-code "$code" --credit-code "$credit" --name "$name" --roles "$role"
  [ "$user" = - ] && continue
  c admin user --name "$user" --role declarant --enterprise "$credit" >/dev/null
  token[$role]=$(c admin token --user "$user")
  "$customs" ceb keygen --name "$name" --out "$keys/$role" >/dev/null
  c admin ceb-certificate --code "$code" --pem "$keys/$role/cert.pem"
done <<'PARTIES'
3301960001 91330100MA2CEB001N ebp ebp_user 测试跨境电商平台有限公司
3301960002 91330100MA2CEB002R ebc - 测试跨境电商企业有限公司
3301960003 91330100MA2CEB003W payment pay_user 测试支付有限公司
3301960004 91330100MA2CEB0040 logistics logistics_user 测试国际物流有限公司
3301960005 91330100MA2CEB0053 agent agent_user 测试报关有限公司
PARTIES
# The agent declares for the e-commerce enterprise (委托申报), against its guarantee (担保).
c admin authorise-broker --broker 91330100MA2CEB0053 --principal 91330100MA2CEB002R >/dev/null
c admin guarantee --assure-code 3301960005 --agent-code 3301960005 --amount 5000.00
# An officer, to release the goods.
c admin user --name officer_wang --role officer >/dev/null
officer=$(c admin token --user officer_wang)

"$customs" --data "$data" serve --listen "127.0.0.1:$port" >"$data-serve.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "$url/v1/health" >/dev/null && break; sleep 0.2; done

send() { # role, message: signed with the role's key, sent with its token, the receipt printed
  echo "== $2 from the $1"
  "$customs" ceb sign --key "$keys/$1/key.pem" --cert "$keys/$1/cert.pem" "$here/$2" |
    curl -s -H "Authorization: Bearer ${token[$1]}" -H 'Content-Type: application/xml' \
      --data-binary @- "$url/v1/ceb/messages" |
    grep -oE '<(ceb:)?(returnStatus|returnInfo|invtNo|orderNo|logisticsNo|payTransactionId)>[^<]*' |
    sed -E 's/<(ceb:)?//; s/>/: /'
}
send agent CEB621Message.xml      # the list first: it waits for its documents (status 2)
send ebp CEB311Message.xml        # the order
send payment CEB411Message.xml    # the payment
send logistics CEB511Message.xml  # the waybill, the last document: the list is matched and lodged
list=0B6E3C8A-1D2F-4E5A-9B7C-2026111100D2
echo "== the list, as its agent sees it"
curl -s -H "Authorization: Bearer ${token[agent]}" "$url/v1/ceb/inventory-lists/$list" |
  python3 -c 'import json,sys; v=json.load(sys.stdin); print("status:", v["status"], "· declaration", v["declaration_number"])'
echo "== its tax bill (CEB816)"
curl -s -H "Authorization: Bearer ${token[agent]}" "$url/v1/ceb/tax-bills/$list" |
  grep -oE '<(ceb:)?(invtNo|taxTotal|customsTax|valueAddedTax|consumptionTax|status)>[^<]*' |
  sed -E 's/<(ceb:)?//; s/>/: /'
echo "== the guarantee"
curl -s -H "Authorization: Bearer $CUSTOMS_TOKEN" "$url/v1/ceb/guarantees/3301960005"; echo
echo "== an officer: what the declaration owes (the guarantee's debit settled it), then release"
number=$(curl -s -H "Authorization: Bearer ${token[agent]}" "$url/v1/ceb/inventory-lists/$list" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["declaration_number"])')
curl -s -H "Authorization: Bearer $officer" "$url/v1/declarations/$number/payments"; echo
curl -s -X POST -H "Authorization: Bearer $officer" -H 'Content-Type: application/json' -d '{}' \
  "$url/v1/declarations/$number/release" |
  python3 -c 'import json,sys; v=json.load(sys.stdin); print("status:", v["status"])'
