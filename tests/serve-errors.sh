#!/bin/sh
# serve-errors.sh - the bad-request catalogue: each bad request gets its 4xx status and an
# OpenAI-style {"error": {"message", "type", "param", "code"}} body with the expected code,
# and the server keeps serving (a good request still works, the process is alive).
set -u
. "${srcdir:-.}/tests/serve-lib.sh"

key=sekrit
start_server --api-key "$key" --max-body 4096 --max-tokens 100 --max-sessions 2
auth="Authorization: Bearer $key"
good='{"messages":[{"role":"user","content":"Hello"}],"seed":1}'

# expect STATUS CODE NAME METHOD PATH [BODY [CURL OPTIONS...]] (the key is sent unless the
# options hold another Authorization header).
expect() {
    _st=$1 _code=$2 _name=$3
    shift 3
    _meth=$1 _path=$2
    shift 2
    if [ $# -gt 0 ]; then
        _body=$1
        shift
        got=$(req "$_meth" "$_path" "$_body" -H "$auth" "$@")
    else
        got=$(req "$_meth" "$_path" - -H "$auth")
    fi
    if [ "$got" = "$_st" ] && grep -q '^{"error":{"message":"[^"]' "$tmp/body" &&
        grep -q '"type":"[a-z_]*"' "$tmp/body" && grep -q "\"code\":\"$_code\"" "$tmp/body"; then
        ok "$_name: $_st $_code"
    else
        bad "$_name: expected $_st $_code, got $got $(head -c 300 "$tmp/body")"
    fi
}

# Keys.
check "missing key: 401 missing_api_key" \
    '[ "$(req POST /v1/chat/completions "$good")" = 401 ] && grep -q "\"code\":\"missing_api_key\"" "$tmp/body"'
check "wrong key: 401 invalid_api_key" \
    '[ "$(req POST /v1/chat/completions "$good" -H "Authorization: Bearer nope")" = 401 ] && grep -q "\"code\":\"invalid_api_key\"" "$tmp/body"'
check "a key without Bearer: 401" \
    '[ "$(req GET /v1/models - -H "Authorization: $key")" = 401 ]'
check "GET /metrics needs the key too" '[ "$(req GET /metrics)" = 401 ]'
check "GET /health needs no key" '[ "$(req GET /health)" = 200 ]'

C=/v1/chat/completions
# Malformed JSON.
expect 400 invalid_json "malformed JSON" POST $C '{"messages": [}'
expect 400 invalid_json "empty body" POST $C ''
expect 400 invalid_json "text after the JSON value" POST $C "$good x"
expect 400 invalid_json "a field given twice" POST $C '{"seed":1,"seed":2,"messages":[{"role":"user","content":"x"}]}'
expect 400 invalid_type "body is an array" POST $C '[1,2]'
# Wrong types.
expect 400 invalid_type "temperature a string" POST $C '{"messages":[{"role":"user","content":"x"}],"temperature":"hot"}'
expect 400 invalid_type "max_tokens not an integer" POST $C '{"messages":[{"role":"user","content":"x"}],"max_tokens":1.5}'
expect 400 invalid_type "messages an object" POST $C '{"messages":{"role":"user"}}'
expect 400 invalid_type "a message a string" POST $C '{"messages":["hi"]}'
expect 400 invalid_type "content a number" POST $C '{"messages":[{"role":"user","content":5}]}'
expect 400 invalid_type "stream a string" POST $C '{"messages":[{"role":"user","content":"x"}],"stream":"yes"}'
expect 400 invalid_type "session a number" POST $C '{"messages":[{"role":"user","content":"x"}],"session":7}'
expect 400 invalid_type "stop a number" POST $C '{"messages":[{"role":"user","content":"x"}],"stop":3}'
expect 400 invalid_type "seed a string" POST $C '{"messages":[{"role":"user","content":"x"}],"seed":"1"}'
# Unknown fields.
expect 400 unknown_parameter "an unknown field" POST $C '{"messages":[{"role":"user","content":"x"}],"foo":1}'
expect 400 unknown_parameter "an unknown message field" POST $C '{"messages":[{"role":"user","content":"x","mood":"sad"}]}'
expect 400 unknown_parameter "an unknown stream option" POST $C '{"messages":[{"role":"user","content":"x"}],"stream":true,"stream_options":{"x":1}}'
expect 400 unknown_parameter "messages on /v1/completions" POST /v1/completions '{"messages":[]}'
# Values out of range, missing fields.
expect 400 missing_parameter "no messages" POST $C '{"seed":1}'
expect 400 missing_parameter "no prompt" POST /v1/completions '{"max_tokens":3}'
expect 400 missing_parameter "a message without content" POST $C '{"messages":[{"role":"user"}]}'
expect 400 invalid_value "empty messages" POST $C '{"messages":[]}'
expect 400 invalid_value "role tool" POST $C '{"messages":[{"role":"tool","content":"x"}]}'
expect 400 invalid_value "the last message the assistant's" POST $C '{"messages":[{"role":"user","content":"x"},{"role":"assistant","content":"y"}]}'
expect 400 invalid_value "temperature 3" POST $C '{"messages":[{"role":"user","content":"x"}],"temperature":3}'
expect 400 invalid_value "top_p 0" POST $C '{"messages":[{"role":"user","content":"x"}],"top_p":0}'
expect 400 invalid_value "n 0" POST $C '{"messages":[{"role":"user","content":"x"}],"n":0}'
expect 400 invalid_value "max_tokens above --max-tokens" POST $C '{"messages":[{"role":"user","content":"x"}],"max_tokens":101}'
expect 400 invalid_value "max_tokens 0" POST $C '{"messages":[{"role":"user","content":"x"}],"max_tokens":0}'
expect 400 invalid_value "five stop sequences" POST $C '{"messages":[{"role":"user","content":"x"}],"stop":["a","b","c","d","e"]}'
expect 400 invalid_value "an empty stop sequence" POST $C '{"messages":[{"role":"user","content":"x"}],"stop":""}'
expect 400 invalid_value "n 2 with a session" POST $C '{"messages":[{"role":"user","content":"x"}],"n":2,"session":"a"}'
expect 400 invalid_value "a session name with a slash" POST $C '{"messages":[{"role":"user","content":"x"}],"session":"../etc"}'
expect 400 invalid_value "stream_options without stream" POST $C '{"messages":[{"role":"user","content":"x"}],"stream_options":{"include_usage":true}}'
expect 400 invalid_value "a NUL character" POST $C '{"messages":[{"role":"user","content":"a\u0000b"}]}'
# Invalid UTF-8: raw bytes, an overlong form, a lone surrogate escape.
expect 400 invalid_utf8 "invalid UTF-8 bytes" POST $C "$(printf '{"messages":[{"role":"user","content":"caf\351"}]}')"
expect 400 invalid_utf8 "an overlong UTF-8 form" POST $C "$(printf '{"messages":[{"role":"user","content":"\300\257"}]}')"
req POST $C '{"messages":[{"role":"user","content":"\ud800"}]}' -H "$auth" > "$tmp/code"
check "a lone surrogate escape: 400 (invalid_json or invalid_utf8)" \
    '[ "$(cat "$tmp/code")" = 400 ] && grep -q "\"code\":\"invalid_\(json\|utf8\)\"" "$tmp/body"'
# Oversized bodies, with and without a length (chunked).
head -c 5000 /dev/zero | tr '\0' 'a' > "$tmp/big"
big=$(printf '{"messages":[{"role":"user","content":"%s"}]}' "$(cat "$tmp/big")")
expect 413 request_too_large "a body over --max-body" POST $C "$big"
expect 413 request_too_large "a chunked body over --max-body" POST $C "$big" -H "Transfer-Encoding: chunked"
# Unknown things.
expect 404 model_not_found "an unknown model" POST $C '{"model":"gpt-4","messages":[{"role":"user","content":"x"}]}'
expect 404 model_not_found "GET /v1/models/gpt-4" GET /v1/models/gpt-4
expect 404 session_not_found "GET an unknown session" GET /v1/sessions/nope
expect 404 session_not_found "DELETE an unknown session" DELETE /v1/sessions/nope
expect 400 invalid_value "GET a session with a bad name" GET /v1/sessions/.hidden
expect 404 not_found "an unknown URL" GET /v1/engines
expect 405 method_not_allowed "GET /v1/chat/completions" GET $C
expect 405 method_not_allowed "PUT /v1/models" PUT /v1/models '{}'
# A session evicted without a session folder: 404 session_expired, never a fresh start.
for s in x1 x2 x3; do
    req POST $C '{"messages":[{"role":"user","content":"Hello"}],"session":"'$s'"}' -H "$auth" > /dev/null
done
expect 404 session_expired "continuing an evicted session (no --session-dir)" POST $C \
    '{"messages":[{"role":"user","content":"And you?"}],"session":"x1"}'
check "DELETE of the expired session frees its name" \
    '[ "$(req DELETE /v1/sessions/x1 - -H "$auth")" = 200 ] && [ "$(req POST $C "{\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}],\"session\":\"x1\"}" -H "$auth")" = 200 ]'

# Garbage on the socket.
check "a request that is not HTTP gets a 4xx or a closed connection" \
    'c=$(curl -s -o /dev/null -w "%{http_code}" -X "BAD METHOD" "http://127.0.0.1:$port/" -H "$auth"); [ "$c" = 000 ] || [ "$c" -ge 400 ]'

# Still serving.
check "after all that a good request works" \
    '[ "$(req POST $C "$good" -H "$auth")" = 200 ] && grep -q "\"content\":" "$tmp/body"'
check "/metrics counted the errors" \
    '[ "$(req GET /metrics - -H "$auth")" = 200 ] && grep -q "code=\"400\"} [1-9]" "$tmp/body" && grep -q "code=\"413\"} [1-9]" "$tmp/body"'
check "the server process is alive" 'kill -0 "$pid"'
stop_server
check "and it stops cleanly (exit 0)" '[ "$server_rc" = 0 ]'

echo "serve-errors.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
