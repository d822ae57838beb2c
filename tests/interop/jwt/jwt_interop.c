/* tests/interop/jwt/jwt_interop.c — libmosaik's JWTs against Node's jose (spec 60 §12 JWT item 4): for
 * every algorithm, tokens our builder signs pass jose.jwtVerify with explicit algorithms, issuer,
 * audience and subject; tokens jose signs pass our validator; a tampered jose token fails ours.
 * Needs node and `npm ci` in this folder (build.sh deps test does it); without them it exits 77,
 * which CTest reports as skipped — never as passed. */
#include "mosaik/tickets.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define SKIP 77
#define NOW_S 1893456000LL

static FILE *to_node, *from_node;
static pid_t node_pid;
static int failures;

static bool start_node(const char *dir) {
    char modules[1024];
    snprintf(modules, sizeof modules, "%s/node_modules/jose/package.json", dir);
    if (access(modules, R_OK) != 0) {
        printf("skipped: %s missing (run `npm ci` in %s)\n", modules, dir);
        return false;
    }
    int in[2], out[2];
    if (pipe(in) || pipe(out)) return false;
    node_pid = fork();
    if (node_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        if (chdir(dir) != 0) _exit(SKIP);
        execlp("node", "node", "interop.mjs", (char *)NULL);
        _exit(SKIP);
    }
    close(in[0]);
    close(out[1]);
    to_node = fdopen(in[1], "w");
    from_node = fdopen(out[0], "r");
    return to_node && from_node;
}

/* One request → one answer (owned). NULL when node is gone. */
static json_t *ask(json_t *req) {
    char *line = json_dumps(req, JSON_COMPACT);
    json_decref(req);
    fprintf(to_node, "%s\n", line);
    fflush(to_node);
    free(line);
    char buf[65536];
    if (!fgets(buf, sizeof buf, from_node)) return NULL;
    return json_loads(buf, 0, NULL);
}

static void check(bool ok, const char *what, const char *alg) {
    printf("%s %s: %s\n", ok ? "ok  " : "FAIL", alg, what);
    if (!ok) failures++;
}

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : ".";
    const char *vectors = argc > 2 ? argv[2] : "vectors.json";
    signal(SIGPIPE, SIG_IGN);
    if (!start_node(dir)) return SKIP;
    json_t *doc = json_load_file(vectors, 0, NULL);
    if (!doc) {
        printf("cannot read %s\n", vectors);
        return 1;
    }
    json_t *keys = json_object_get(doc, "keys");
    mk_id_t peer = mk_id_from_str("interop-peer");
    char peer_hex[MK_ID_HEX_LEN + 1];
    mk_id_hex(&peer, peer_hex);
    mk_ticket_peer_t tp = {.peer_id = peer, .network_id = mk_id_from_str("interop")};
    static const char *const names[] = {"", "HS256", "HS384", "HS512", "ES256", "ES256K", "ES384", "ES512", "EdDSA"};
    for (mk_jwt_alg_t alg = MK_JWT_HS256; alg <= MK_JWT_EDDSA; alg++) {
        json_t *k = json_object_get(keys, names[alg]);
        bool hs = alg <= MK_JWT_HS512;
        const char *secret = hs ? json_string_value(json_object_get(k, "secret_hex")) : NULL;
        mk_jwt_key_t priv = hs ? (mk_jwt_key_t)MK_JWT_KEY_HEX(alg, secret)
                               : (mk_jwt_key_t)MK_JWT_KEY_PEM(alg, json_string_value(json_object_get(k, "private_pem")));
        mk_jwt_key_t pub = hs ? priv : (mk_jwt_key_t)MK_JWT_KEY_PEM(alg, json_string_value(json_object_get(k, "public_pem")));
        /* ours → jose */
        mk_error_t e;
        mk_jwt_signer_t *s = mk_jwt_signer_new(&priv, &e);
        if (!s) {
            check(false, e.msg, names[alg]);
            continue;
        }
        mk_jwt_builder_t b = {.signer = s, .issuer = "my-app", .audience = "stream", .expires_in_s = 3600};
        mk_buf_t tok = MK_BUF_INIT;
        mk_jwt_sign(&b, &peer, NOW_S * 1000, &tok, &e);
        json_t *key = hs ? json_pack("{s:s}", "secret_hex", secret)
                         : json_pack("{s:s}", "pem", json_string_value(json_object_get(k, "public_pem")));
        json_t *r = ask(json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:s,s:I}", "op", "verify", "alg", names[alg], "key", key,
                                  "token", (char *)tok.ptr, "iss", "my-app", "aud", "stream", "sub", peer_hex, "now",
                                  (json_int_t)NOW_S));
        check(r && json_is_true(json_object_get(r, "ok")), "our token passes jose.jwtVerify", names[alg]);
        json_decref(r);
        mk_buf_free(&tok);
        mk_jwt_signer_free(s);
        /* jose → ours */
        json_t *pkey = hs ? json_incref(key)
                          : json_pack("{s:s}", "pem", json_string_value(json_object_get(k, "private_pem")));
        json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I}", "iss", "my-app", "aud", "stream", "sub", peer_hex, "iat",
                                   (json_int_t)NOW_S, "exp", (json_int_t)(NOW_S + 600));
        r = ask(json_pack("{s:s,s:s,s:o,s:o}", "op", "sign", "alg", names[alg], "key", pkey, "claims", claims));
        const char *jt = r ? json_string_value(json_object_get(r, "token")) : NULL;
        if (!jt) {
            check(false, "jose signs a token", names[alg]);
            json_decref(r);
            json_decref(key);
            continue;
        }
        mk_jwt_config_t cfg = {.keys = {pub}, .issuers = {"my-app"}, .audiences = {"stream"}};
        mk_ticket_validator_t v = MK_JWT_VALIDATOR(&cfg);
        mk_ticket_verdict_t out;
        mk_ticket_validate(&v, (const uint8_t *)jt, strlen(jt), &tp, NOW_S * 1000, &out);
        check(out.valid && out.expires == (NOW_S + 600) * 1000, "jose's token passes our validator", names[alg]);
        char *tampered = strdup(jt);
        size_t n = strlen(tampered);
        tampered[n - 3] = tampered[n - 3] == 'A' ? 'B' : 'A';
        mk_ticket_validate(&v, (const uint8_t *)tampered, n, &tp, NOW_S * 1000, &out);
        check(!out.valid, "a tampered jose token fails ours", names[alg]);
        free(tampered);
        json_decref(r);
        json_decref(key);
    }
    json_decref(doc);
    fclose(to_node);
    fclose(from_node);
    int st;
    waitpid(node_pid, &st, 0);
    printf("%d interop failure(s)\n", failures);
    return failures ? 1 : 0;
}
