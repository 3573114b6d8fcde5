/* runtime/cli/main.c: the d2rt command line (placeholder until the CLI lands). */
#include <stdio.h>

int main(void)
{
    fprintf(stderr, "d2rt: not built yet\n");
    return 1;
}
