/* test_ngram.c - placeholder: this suite is being written. */
#include "harness.h"

int main(void)
{
    printf("test_ngram: not written yet\n");
    return TEST_SKIP;
}
