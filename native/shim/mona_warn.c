/* The state's warning function: see mona_warn.h. */
#include "mona_warn.h"

#include <stdlib.h>
#include <string.h>

struct mona_warn {
    mona_warnsink sink;
    void *context;
    int on;          /* warn("@on") / warn("@off"): script warnings shown or not */
    int pieces;      /* pieces of the warning being assembled */
    int gc;          /* it is an error in __gc (its first two pieces say so) */
    int cut;         /* it did not fit */
    size_t length;
    char text[MONA_WARN_MAX + 1];
};

static void append(mona_warn *w, const char *piece) {
    size_t n = strlen(piece);
    size_t room = MONA_WARN_MAX - w->length;
    if (n > room) {
        n = room;
        w->cut = 1;
    }
    memcpy(w->text + w->length, piece, n);
    w->length += n;
}

/* lua_WarnFunction. Control messages are single-piece warnings that start with '@', as in
 * lauxlib's: "@on" and "@off" switch script warnings, any other is ignored. */
static void warnf(void *ud, const char *piece, int tocont) {
    mona_warn *w = ud;
    if (w->pieces == 0 && !tocont && piece[0] == '@') {
        if (strcmp(piece, "@on") == 0)
            w->on = 1;
        else if (strcmp(piece, "@off") == 0)
            w->on = 0;
        return;
    }
    /* lstate.c luaE_warnerror: "error in " then where ("__gc"), as separate pieces. */
    if (w->pieces == 1 && strcmp(piece, "__gc") == 0 && w->length == 9 && memcmp(w->text, "error in ", 9) == 0)
        w->gc = 1;
    append(w, piece);
    w->pieces++;
    if (tocont)
        return;
    if (w->cut && w->length >= 3)
        memcpy(w->text + w->length - 3, "...", 3);
    w->text[w->length] = '\0';
    if (w->gc || w->on)
        w->sink(w->context, w->text, w->length, w->gc ? MONA_WARN_GC : MONA_WARN_SCRIPT);
    w->pieces = 0;
    w->gc = 0;
    w->cut = 0;
    w->length = 0;
}

mona_warn *mona_setwarn(lua_State *L, mona_warnsink sink, void *context) {
    mona_warn *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->sink = sink;
    w->context = context;
    lua_setwarnf(L, warnf, w);
    return w;
}

void mona_freewarn(mona_warn *warn) { free(warn); }
