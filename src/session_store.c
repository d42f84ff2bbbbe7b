/*
 * The session store and tokens. See session_store.h for the three indexes; this file
 * keeps them in step: a session is on all three (hash table, its user's list, the
 * heap) from session_store_add() until session_store_remove(), never on only some.
 */
#include "session_store.h"
#include "mem.h"

#include <sodium.h>
#include <string.h>

#define HEAP_MIN_CAP 64 /* first allocation of the expiry heap */

/* ---- tokens ---- */

void session_token_new(char *out)
{
    unsigned char raw[SESSION_TOKEN_BYTES];
    randombytes_buf(raw, sizeof raw);
    sodium_bin2base64(out, SESSION_TOKEN_LEN + 1, raw, sizeof raw,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    sodium_memzero(raw, sizeof raw);
}

static bool token_char(unsigned char ch)
{
    return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_';
}

bool session_token_wellformed(const char *s, size_t len)
{
    if (len != SESSION_TOKEN_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!token_char((unsigned char)s[i]))
            return false;
    return true;
}

void session_token_hash(const char *s, size_t len, uint8_t out[SESSION_HASH_LEN])
{
    crypto_generichash(out, SESSION_HASH_LEN, (const unsigned char *)s, len, NULL, 0);
}

void session_hash_hex(const uint8_t *h, size_t n, char *out)
{
    sodium_bin2hex(out, n * 2 + 1, h, n);
}

/* ---- the expiry heap ---- */

static void heap_set(session_store *st, size_t i, session *s)
{
    st->heap[i] = s;
    s->heap_idx = i;
}

static bool heap_less(const session *a, const session *b)
{
    return a->expires_ms < b->expires_ms;
}

static void heap_up(session_store *st, size_t i)
{
    session *s = st->heap[i];
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!heap_less(s, st->heap[parent]))
            break;
        heap_set(st, i, st->heap[parent]);
        i = parent;
    }
    heap_set(st, i, s);
}

static void heap_down(session_store *st, size_t i)
{
    session *s = st->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const session *best = s;
        if (l < st->heap_len && heap_less(st->heap[l], best)) {
            m = l;
            best = st->heap[l];
        }
        if (r < st->heap_len && heap_less(st->heap[r], best))
            m = r;
        if (m == i)
            break;
        heap_set(st, i, st->heap[m]);
        i = m;
    }
    heap_set(st, i, s);
}

static void heap_push(session_store *st, session *s)
{
    if (st->heap_len == st->heap_cap) {
        st->heap_cap = st->heap_cap ? st->heap_cap * 2 : HEAP_MIN_CAP;
        st->heap = mem_realloc(st->heap, st->heap_cap * sizeof *st->heap);
    }
    heap_set(st, st->heap_len++, s);
    heap_up(st, s->heap_idx);
}

static void heap_remove(session_store *st, session *s)
{
    size_t i = s->heap_idx;
    session *last = st->heap[--st->heap_len];
    if (i == st->heap_len)
        return;
    heap_set(st, i, last);
    heap_up(st, i);
    heap_down(st, last->heap_idx);
}

/* ---- the per-user lists ---- */

static uint64_t hash_key(const uint8_t hash[SESSION_HASH_LEN])
{
    uint64_t k;
    memcpy(&k, hash, sizeof k);
    return k;
}

/* Orders the list: older first, then by hash so that the order is total. */
static bool list_before(const session *a, const session *b)
{
    if (a->created_ms != b->created_ms)
        return a->created_ms < b->created_ms;
    return memcmp(a->hash, b->hash, SESSION_HASH_LEN) < 0;
}

static void list_insert(session_user *u, session *s)
{
    /* New sessions are the newest: walking from the tail is O(1) for them. */
    session *after = u->tail;
    while (after && list_before(s, after))
        after = after->prev;
    s->prev = after;
    s->next = after ? after->next : u->head;
    if (s->next)
        s->next->prev = s;
    else
        u->tail = s;
    if (after)
        after->next = s;
    else
        u->head = s;
    s->owner = u;
    u->count++;
}

static void list_remove(session_user *u, session *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        u->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        u->tail = s->prev;
    s->prev = s->next = NULL;
    s->owner = NULL;
    u->count--;
}

/* ---- the store ---- */

void session_store_init(session_store *st)
{
    memset(st, 0, sizeof *st);
    idmap_init(&st->by_hash);
    idmap_init(&st->users);
}

void session_store_free(session_store *st)
{
    for (size_t i = 0; i < st->heap_len; i++)
        mem_free(st->heap[i]);
    uint64_t k, v;
    for (size_t it = 0; idmap_next(&st->users, &it, &k, &v);)
        mem_free((void *)(uintptr_t)v);
    mem_free(st->heap);
    idmap_free(&st->by_hash);
    idmap_free(&st->users);
    memset(st, 0, sizeof *st);
}

session *session_store_find(const session_store *st, const uint8_t hash[SESSION_HASH_LEN])
{
    uint64_t v;
    if (!idmap_get(&st->by_hash, hash_key(hash), &v))
        return NULL;
    session *s = (session *)(uintptr_t)v;
    return sodium_memcmp(s->hash, hash, SESSION_HASH_LEN) == 0 ? s : NULL;
}

session_user *session_store_user(const session_store *st, uint64_t user)
{
    uint64_t v;
    return idmap_get(&st->users, user, &v) ? (session_user *)(uintptr_t)v : NULL;
}

session_user *session_store_user_get(session_store *st, uint64_t user)
{
    session_user *u = session_store_user(st, user);
    if (!u) {
        u = mem_calloc(1, sizeof *u);
        u->user = user;
        idmap_put(&st->users, user, (uint64_t)(uintptr_t)u);
    }
    return u;
}

void session_store_user_release(session_store *st, session_user *u)
{
    if (u->count == 0 && u->pending_creates == 0) {
        idmap_del(&st->users, u->user);
        mem_free(u);
    }
}

session *session_store_add(session_store *st, const uint8_t hash[SESSION_HASH_LEN], uint64_t tenant,
                           uint64_t user, int64_t created_ms, int64_t expires_ms, int64_t ttl_ms)
{
    uint64_t key = hash_key(hash), v;
    if (idmap_get(&st->by_hash, key, &v))
        return NULL; /* the same session, or an 8-byte prefix collision */
    session *s = mem_calloc(1, sizeof *s);
    memcpy(s->hash, hash, SESSION_HASH_LEN);
    s->tenant = tenant;
    s->user = user;
    s->created_ms = created_ms;
    s->expires_ms = expires_ms;
    s->ttl_ms = ttl_ms > 0 ? ttl_ms : expires_ms - created_ms;
    idmap_put(&st->by_hash, key, (uint64_t)(uintptr_t)s);
    list_insert(session_store_user_get(st, user), s);
    heap_push(st, s);
    return s;
}

void session_store_set_expiry(session_store *st, session *s, int64_t expires_ms)
{
    s->expires_ms = expires_ms;
    heap_up(st, s->heap_idx);
    heap_down(st, s->heap_idx);
}

void session_store_remove(session_store *st, session *s)
{
    if (st->on_remove)
        st->on_remove(s);
    idmap_del(&st->by_hash, hash_key(s->hash));
    heap_remove(st, s);
    session_user *u = s->owner;
    list_remove(u, s);
    session_store_user_release(st, u);
    sodium_memzero(s, sizeof *s);
    mem_free(s);
}

size_t session_store_remove_user(session_store *st, uint64_t user)
{
    session_user *u = session_store_user(st, user);
    if (!u)
        return 0;
    size_t n = 0;
    /* Keep the record alive while its list empties: pin it with a pending count. */
    u->pending_creates++;
    while (u->head) {
        session_store_remove(st, u->head);
        n++;
    }
    u->pending_creates--;
    session_store_user_release(st, u);
    return n;
}

session *session_store_first_expiry(const session_store *st)
{
    return st->heap_len ? st->heap[0] : NULL;
}

size_t session_store_count(const session_store *st)
{
    return st->heap_len;
}

size_t session_store_users(const session_store *st)
{
    return st->users.count;
}

size_t session_store_bytes(const session_store *st)
{
    return st->heap_len * sizeof(session) + st->users.count * sizeof(session_user) +
           st->heap_cap * sizeof(session *) + idmap_bytes(&st->by_hash) + idmap_bytes(&st->users);
}
