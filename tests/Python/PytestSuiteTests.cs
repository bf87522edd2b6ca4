namespace EdgeShortcut.Tests.Python;

/// <summary>
/// Runs the Python-only tests (python/tests, pytest) as part of <c>dotnet test</c>, so the README's one
/// test command covers both trainers. Pinned there: 2 processes == 1 process at every step, exact
/// resume, SIGKILL of one rank + resume, atomic checkpoints, bad input on every rank without a hang.
/// A failure shows pytest's own report.
/// </summary>
public class PytestSuiteTests
{
    [Fact]
    public void Python_trainer_tests_pass()
    {
        var r = PythonTools.Run(["-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations=5", Path.Combine(PythonTools.Dir, "tests")], TimeSpan.FromMinutes(8));
        Assert.True(r.Code == 0, $"pytest exited with {r.Code} (5 = no tests collected; 'No module named pytest': apt-get install -y python3-pytest)\n{r.Out}\n{r.Err}");
        Assert.Contains(" passed", r.Out);
    }
}
