using TUnit.Core;

// Every test is bounded; tests that wait on a child process or on the 2-second reload and
// manage ticks set their own, shorter or longer, bound.
[assembly: Timeout(60_000)]
