/* test_text.c - placeholder: this suite is being written. */
#include "harness.h"

int main(void)
{
    printf("test_text: not written yet\n");
    return TEST_SKIP;
}
