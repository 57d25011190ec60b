/* list: an intrusive doubly linked list. The node (list_link) lives inside
 * the object it links, so linking allocates nothing, removal is O(1), and
 * one object can be on several lists through several links. A link knows
 * the list it is on, so "is it linked?" needs no flag beside it. A zeroed
 * list is empty and a zeroed link is unlinked: no init call is needed. */
#ifndef KVD_LIST_H
#define KVD_LIST_H

#include <stddef.h>

typedef struct list_link {
    struct list_link *prev, *next;
    struct list *in; /* the list it is on, NULL when none */
} list_link;

typedef struct list {
    list_link *first, *last;
    size_t len;
} list;

/* The object a link is embedded in: LIST_ITEM(link, client, held). */
#define LIST_ITEM(link, type, member) ((type *)(void *)((char *)(link) - offsetof(type, member)))

static inline int list_linked(const list_link *n)
{
    return n->in != NULL;
}

/* Append n (not on any list) at the end of l. */
static inline void list_push_back(list *l, list_link *n)
{
    n->prev = l->last;
    n->next = NULL;
    if (l->last)
        l->last->next = n;
    else
        l->first = n;
    l->last = n;
    n->in = l;
    l->len++;
}

/* Take n off the list it is on; nothing if it is on none. */
static inline void list_remove(list_link *n)
{
    list *l = n->in;
    if (!l)
        return;
    if (n->prev)
        n->prev->next = n->next;
    else
        l->first = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->last = n->prev;
    n->prev = n->next = NULL;
    n->in = NULL;
    l->len--;
}

/* Move n (on l) to the end of l. */
static inline void list_move_back(list *l, list_link *n)
{
    if (l->last != n) {
        list_remove(n);
        list_push_back(l, n);
    }
}

/* Walk l's objects; the body may remove the current one from l. */
#define LIST_EACH(l, type, member, var)                                                          \
    for (list_link *var##_l = (l)->first, *var##_n = var##_l ? var##_l->next : NULL;             \
         var##_l && ((var) = LIST_ITEM(var##_l, type, member), 1);                               \
         var##_l = var##_n, var##_n = var##_l ? var##_l->next : NULL)

#endif
