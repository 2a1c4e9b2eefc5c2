/*
 * Empty stand-in for <curl/curl.h>. librdkafka >= 2.11 built with CMake writes
 * `#define WITH_OAUTHBEARER_OIDC 0` but tests it with `#ifdef` (confluentinc/librdkafka#5135),
 * so rdkafka_conf.c includes curl.h although nothing from curl is used. This stub lets the
 * bundled build succeed natively and under cargo-lambda's zig cross builds, where the system
 * headers are not searched. Remove once librdkafka ships the fix (PR #5309).
 */
