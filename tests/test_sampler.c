/* test_sampler.c - placeholder: this suite is being written. */
#include "harness.h"

int main(void)
{
    printf("test_sampler: not written yet\n");
    return TEST_SKIP;
}
