#include "plan/shell_script.hpp"

#include <filesystem>
#include <random>

#include <fcntl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include "config/loader.hpp"
#include "plan/plan.hpp"

namespace bm {
namespace {

namespace fs = std::filesystem;

// Runs argv (a real shell) with `env`, in `dir`; returns what it printed on stdout.
std::string run(const std::vector<std::string>& argv, const EnvList& variables, const fs::path& dir) {
  int fds[2];
  EXPECT_EQ(::pipe(fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], 1);
    ::close(fds[0]);
    if (::chdir(dir.c_str()) != 0) {
      ::_exit(126);
    }
    std::vector<std::string> env = {"PATH=/usr/bin:/bin"};
    for (const auto& [name, value] : variables) {
      env.push_back(name + "=" + value);
    }
    std::vector<char*> args;
    std::vector<char*> envp;
    for (const auto& word : argv) {
      args.push_back(const_cast<char*>(word.c_str()));
    }
    for (const auto& entry : env) {
      envp.push_back(const_cast<char*>(entry.c_str()));
    }
    args.push_back(nullptr);
    envp.push_back(nullptr);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  ::close(fds[1]);
  std::string out;
  char buffer[4096];
  for (ssize_t n; (n = ::read(fds[0], buffer, sizeof buffer)) > 0;) {
    out.append(buffer, static_cast<size_t>(n));
  }
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return out;
}

// A JSON string literal is a YAML double-quoted scalar: any bytes, escaped.
std::string yaml_quoted(const std::string& text) {
  return nlohmann::json(text).dump();
}

Plan shell_plan(const std::string& script, const std::vector<std::string>& values) {
  std::string list;
  for (const auto& value : values) {
    list += (list.empty() ? "" : ", ") + yaml_quoted(value);
  }
  return Plan::build(parse_config("name: t\nshell: true\ncommand: " + yaml_quoted(script) + "\nmatrix:\n  v: [" +
                                      list + "]\n",
                                  "test.yaml"));
}

class ShellScript : public ::testing::Test {
protected:
  void SetUp() override {
    m_dir = fs::temp_directory_path() / ("bm-shell-" + std::to_string(::getpid()));
    fs::create_directories(m_dir);
  }
  void TearDown() override { fs::remove_all(m_dir); }

  // Every value reaches the script as exactly its bytes, under dash and bash, and runs nothing.
  void expect_exact(const std::string& script, const std::string& before, const std::string& after,
                    const std::vector<std::string>& values) {
    Plan plan = shell_plan(script, values);
    for (std::size_t task = 0; task < plan.size(); ++task) {
      TaskCommands commands = plan.render(task, nullptr);
      ASSERT_EQ(commands.command.size(), 3u);
      if (values[task].size() > 3) {
        EXPECT_EQ(commands.command[2].find(values[task]), std::string::npos)
            << "the value itself is in the script: " << commands.command[2];
      }
      for (const char* shell : {"/bin/sh", "/bin/bash"}) {
        std::vector<std::string> argv = commands.command;
        argv[0] = shell;
        EXPECT_EQ(run(argv, commands.shell_variables, m_dir), before + values[task] + after)
            << shell << " on " << commands.command[2];
        EXPECT_TRUE(fs::is_empty(m_dir)) << shell << ": the value ran as code: " << commands.command[2];
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
      }
    }
  }

  fs::path m_dir;
};

const std::vector<std::string> k_hostile = {
    "$(touch pwned)", "`touch pwned`", "'; touch pwned; '", "\"; touch pwned; \"", "\\", "a\nb", "EOF\ntouch pwned\nEOF",
    "$'x'", "*", " spaced  value ", "-n", "${IFS}", "!", "%s", "'", "\"", "$((1+1))", "}{", "\\\"'`$", "a\tb\x01"};

TEST_F(ShellScript, ValuesReachEveryQuotingContextExactly) {
  expect_exact("printf '%s|' {v}", "", "|", k_hostile);
  expect_exact("printf '%s|' \"{v}\"", "", "|", k_hostile);
  expect_exact("printf '%s|' '{v}'", "", "|", k_hostile);
  expect_exact("printf '%s|' \"pre-{v}-post\"", "pre-", "-post|", k_hostile);
  expect_exact("printf '%s|' 'pre-{v}-post'x", "pre-", "-postx|", {"$(touch pwned)", "a'b"});
  expect_exact("printf '%s|' \"$(printf '%s' {v})\"", "", "|", {"$(touch pwned)", "a b", "`touch pwned`"});
  expect_exact("x={v}; printf '%s|' \"$x\"", "", "|", k_hostile);
  expect_exact("f() {{ printf '%s|' {v}; }}; f other words", "", "|", {"$(touch pwned)", "a b"});
  expect_exact("# a comment with {v}\nprintf '%s|' {v}", "", "|", {"x\ntouch pwned", "a"});
}

TEST_F(ShellScript, HereDocumentsWithAnUnquotedDelimiterExpandTheValue) {
  expect_exact("cat <<EOF\n{v}\nEOF", "", "\n", {"$(touch pwned)", "EOF\ntouch pwned\nEOF", "a\\b", "`touch pwned`"});
  expect_exact("cat <<-EOF\n\t<{v}>\n\tEOF\nprintf done", "<", ">\ndone", {"x y"});
  expect_exact("cat <<A; cat <<B\n{v}\nA\n[value]\nB", "", "\n[value]\n", {"$(touch pwned)"});
}

TEST_F(ShellScript, ContextsAreFoundAndReferencesQuotedForThem) {
  auto contexts = [](const std::string& text) { return shell_contexts(Template::parse(text, {"t", 1, 1})); };
  using C = ShellContext;
  EXPECT_EQ(contexts("a {v} \"{v}\" '{v}' $'{v}' $(( {v} + 1 )) $(b {v} \"{v}\")"),
            (std::vector<C>{C::Unquoted, C::DoubleQuoted, C::SingleQuoted, C::AnsiC, C::Arithmetic, C::Unquoted,
                            C::DoubleQuoted}));
  EXPECT_EQ(contexts("echo \"a $(echo '{v}') b\" \\\"{v}"), (std::vector<C>{C::SingleQuoted, C::Unquoted}));
  EXPECT_EQ(contexts("cat <<E\n{v}\nE\n{v}"), (std::vector<C>{C::HereDocument, C::Unquoted}));
  EXPECT_EQ(shell_reference(C::Unquoted, "X"), "\"${X}\"");
  EXPECT_EQ(shell_reference(C::DoubleQuoted, "X"), "${X}");
  EXPECT_EQ(shell_reference(C::SingleQuoted, "X"), "'\"${X}\"'");
  EXPECT_EQ(shell_reference(C::AnsiC, "X"), "'\"${X}\"$'");
}

TEST_F(ShellScript, ContextsWhereNoValueCanBePlacedAreRefused) {
  auto error = [](const std::string& script) {
    try {
      shell_plan(script, {"a"});
    } catch (const UserError& e) {
      return std::string(e.what());
    }
    return std::string("accepted");
  };
  EXPECT_NE(error("cat <<'EOF'\n{v}\nEOF").find("delimiter is quoted (<<'EOF')"), std::string::npos);
  EXPECT_NE(error("cat <<\"EOF\"\n{v}\nEOF").find("delimiter is quoted"), std::string::npos);
  EXPECT_NE(error("cat <<{v}\nx\n").find("here-document's delimiter"), std::string::npos);
  EXPECT_NE(error("echo `echo {v}`").find("backquotes"), std::string::npos);
  EXPECT_NE(error("echo ${{x:-{v}}}").find("${...}"), std::string::npos);
  EXPECT_NE(error("echo \\{v}").find("follows a '\\'"), std::string::npos);
  EXPECT_NE(error("echo \"$${v}\"").find("follows a '$'"), std::string::npos);
  EXPECT_NE(error("echo \"${v}\"").find("follows a '$'"), std::string::npos);
  EXPECT_NE(error("cat <<E\n$(echo {v})\nE").find("expansion"), std::string::npos);
  EXPECT_NE(error("echo `echo {v}`").find("test.yaml:3:10"), std::string::npos);
  EXPECT_EQ(error("echo '${v}' \\\\{v}"), "accepted");  // a literal '$' in single quotes; an escaped backslash
}

TEST_F(ShellScript, ArithmeticTakesWholeNumbersOnly) {
  expect_exact("printf '%s|' $(( {v} + 0 ))", "", "|", {"42", "-7"});
  try {
    shell_plan("echo $(( {v} ))", {"a[$(touch pwned)]"});
    FAIL() << "accepted";
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("is not a whole number"), std::string::npos) << e.what();
  }
}

TEST_F(ShellScript, RandomValuesReachTheScriptExactly) {
  // Property: any bytes but NUL, in any of the main contexts, arrive exactly and run nothing.
  std::mt19937 random(7);
  const std::string alphabet = "ab $'\"`\\;|&(){}[]*?<>#~!%\n\t=-_.,/:EOF";
  std::vector<std::string> values;
  for (int i = 0; i < 40; ++i) {
    std::string value;
    int length = 1 + static_cast<int>(random() % 12);
    for (int j = 0; j < length; ++j) {
      value += alphabet[random() % alphabet.size()];
    }
    if (std::find(values.begin(), values.end(), value) == values.end()) {
      values.push_back(value);
    }
  }
  expect_exact("printf '%s|' {v}", "", "|", values);
  expect_exact("printf '%s|' \"<{v}>\"", "<", ">|", values);
  expect_exact("printf '%s|' '<{v}>'", "<", ">|", values);
}

TEST_F(ShellScript, ArgvRunningAShellWithDashCIsTreatedAsAScript) {
  Plan plan = Plan::build(parse_config(
      "name: t\ncommand: [bash, -e, -o, pipefail, -c, 'printf \"%s|\" {v}', '{v}']\nmatrix: {v: ['$(touch pwned)']}\n",
      "test.yaml"));
  TaskCommands commands = plan.render(0, nullptr);
  ASSERT_EQ(commands.command.size(), 7u);
  EXPECT_EQ(commands.command[5], "printf \"%s|\" \"${BENCHMATRIX_AXIS_v}\"");
  EXPECT_EQ(commands.command[6], "$(touch pwned)");  // $0 of the script: an argv word, substituted as it is
  std::vector<std::string> argv = commands.command;
  argv[0] = "/bin/bash";
  EXPECT_EQ(run(argv, commands.shell_variables, m_dir), "$(touch pwned)|");
  EXPECT_TRUE(fs::is_empty(m_dir));
  // Not a shell, or no -c: words are substituted as they are.
  std::vector<Template> words = {Template::parse("python3", {}), Template::parse("-c", {}), Template::parse("x", {})};
  EXPECT_EQ(shell_script_word({&words[0], &words[1], &words[2]}), 0u);
  words[0] = Template::parse("/usr/bin/dash", {});
  EXPECT_EQ(shell_script_word({&words[0], &words[1], &words[2]}), 2u);
  words[1] = Template::parse("script.sh", {});
  EXPECT_EQ(shell_script_word({&words[0], &words[1], &words[2]}), 0u);
}

TEST_F(ShellScript, APlaceholderThatIsTheWholeScriptIsTheScript) {
  Plan plan = Plan::build(parse_config("name: t\ncommand: [sh, -c, '{c.script}']\nmatrix:\n  c: [{name: a, script: "
                                       "'printf %s x | tr x y'}]\n",
                                       "test.yaml"));
  TaskCommands commands = plan.render(0, nullptr);
  EXPECT_EQ(commands.command[2], "printf %s x | tr x y");
  EXPECT_TRUE(commands.shell_variables.empty());
  Plan shell = shell_plan("{v}", {"printf %s ok"});
  EXPECT_EQ(shell.render(0, nullptr).command[2], "printf %s ok");
}

TEST_F(ShellScript, ValuesArePartOfTheSpecHash) {
  Plan plan = shell_plan("echo {v}", {"a", "b"});
  EXPECT_NE(plan.spec_hash(0), plan.spec_hash(1));
  EXPECT_EQ(plan.render(0, nullptr).command, plan.render(1, nullptr).command);
}

} // namespace
} // namespace bm
