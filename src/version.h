/* version: the one place kvd's version string comes from. */
#ifndef KVD_VERSION_H
#define KVD_VERSION_H
#include "config.h"
#define KVD_VERSION PACKAGE_VERSION
#endif
