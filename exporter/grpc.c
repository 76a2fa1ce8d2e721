/* PLACEHOLDER */
#include "sender.h"
