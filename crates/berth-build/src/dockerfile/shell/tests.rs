use super::*;

fn env(pairs: &[&str]) -> EnvList {
    EnvList::from_slice(pairs)
}

fn word(input: &str, e: &[&str]) -> Result<String, String> {
    Lex::new('\\')
        .process_word(input, &env(e))
        .map_err(|e| e.message)
}

fn words(input: &str, e: &[&str]) -> Vec<String> {
    Lex::new('\\')
        .process_words(input, &env(e))
        .unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn ok(input: &str, e: &[&str]) -> String {
    word(input, e).unwrap_or_else(|err| panic!("{input}: {err}"))
}

#[test]
fn plain_and_quoted() {
    assert_eq!(ok("abc", &[]), "abc");
    assert_eq!(ok("a'b c'd", &[]), "ab cd");
    assert_eq!(ok("a\"b c\"d", &[]), "ab cd");
    assert_eq!(ok("'$X \\n'", &["X=1"]), "$X \\n");
    assert_eq!(ok("\"it's\"", &[]), "it's");
    assert_eq!(ok("'say \"hi\"'", &[]), "say \"hi\"");
}

#[test]
fn escapes_outside_quotes() {
    assert_eq!(ok("a\\ b", &[]), "a b");
    assert_eq!(ok("a\\nb", &[]), "anb");
    assert_eq!(ok("end\\", &[]), "end");
    assert_eq!(ok("end\\\\", &[]), "end\\");
    assert_eq!(ok("\\$X", &["X=1"]), "$X");
    assert_eq!(ok("\\'q", &[]), "'q");
}

#[test]
fn escapes_inside_double_quotes() {
    // Only ", $ and the escape token itself are escapable.
    assert_eq!(ok("\"a\\\"b\"", &[]), "a\"b");
    assert_eq!(ok("\"\\$X\"", &["X=1"]), "$X");
    assert_eq!(ok("\"a\\\\b\"", &[]), "a\\b");
    assert_eq!(ok("\"a\\nb\"", &[]), "a\\nb");
}

#[test]
fn backtick_escape_token() {
    let lex = Lex::new('`');
    let e = env(&["X=1"]);
    assert_eq!(lex.process_word("a`$X", &e).unwrap(), "a$X");
    assert_eq!(lex.process_word("c:\\dir", &e).unwrap(), "c:\\dir");
    assert_eq!(lex.process_word("\"q`\"q\"", &e).unwrap(), "q\"q");
    assert_eq!(lex.escape_token(), '`');
}

#[test]
fn unterminated_quotes() {
    assert_eq!(
        word("'abc", &[]).unwrap_err(),
        "unexpected end of statement while looking for matching single-quote"
    );
    assert_eq!(
        word("\"abc\\\"", &[]).unwrap_err(),
        "unexpected end of statement while looking for matching double-quote"
    );
}

#[test]
fn error_display_wraps_word() {
    let err = Lex::new('\\')
        .process_word("x${Y:?must \"set\"}", &env(&[]))
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "failed to process \"x${Y:?must \\\"set\\\"}\": Y: must set"
    );
}

#[test]
fn simple_variables() {
    let e = ["HOME=/root", "N=", "A_1=x"];
    assert_eq!(ok("$HOME/bin", &e), "/root/bin");
    assert_eq!(ok("${HOME}bin", &e), "/rootbin");
    assert_eq!(ok("[$N]", &e), "[]");
    assert_eq!(ok("$A_1.", &e), "x.");
    assert_eq!(ok("$UNSET-", &e), "-");
    assert_eq!(ok("${UNSET}", &e), "");
}

#[test]
fn later_env_entry_wins() {
    assert_eq!(ok("$A", &["A=1", "B=2", "A=3"]), "3");
    let pairs = vec![
        ("A".to_string(), "1".to_string()),
        ("A".to_string(), "2".to_string()),
    ];
    assert_eq!(Lex::new('\\').process_word("$A", &pairs).unwrap(), "2");
    assert_eq!(EnvGetter::keys(&pairs), vec!["A", "A"]);
    // No `=` means set to empty.
    assert_eq!(ok("${A-unset}", &["A"]), "");
}

#[test]
fn dollar_edge_cases() {
    assert_eq!(ok("$", &[]), "$");
    assert_eq!(ok("a$", &[]), "a$");
    assert_eq!(ok("$.x", &[]), "$.x");
    assert_eq!(ok("$ x", &[]), "$ x");
    assert_eq!(ok("$'q'", &[]), "$q");
    // Positional and special parameters are names too (never set here).
    assert_eq!(ok("a$12b", &[]), "ab");
    assert_eq!(ok("a$@b", &[]), "ab");
    assert_eq!(ok("a$$b", &[]), "ab");
    assert_eq!(ok("a$-b", &["-=dash"]), "adashb");
    assert_eq!(ok("\\${}", &[]), "${}");
}

#[test]
fn brace_syntax_errors() {
    assert_eq!(
        word("${}", &[]).unwrap_err(),
        "syntax error: bad substitution"
    );
    assert_eq!(
        word("${{x}", &[]).unwrap_err(),
        "syntax error: bad substitution"
    );
    assert_eq!(
        word("${:x}", &[]).unwrap_err(),
        "syntax error: bad substitution"
    );
    assert_eq!(word("x${", &[]).unwrap_err(), "syntax error: missing '}'");
    assert_eq!(
        word("${X:-abc", &[]).unwrap_err(),
        "syntax error: missing '}'"
    );
    assert_eq!(
        word("${.}", &[]).unwrap_err(),
        "unsupported modifier (.) in substitution"
    );
    assert_eq!(
        word("${X", &[]).unwrap_err(),
        "unsupported modifier (\u{FFFD}) in substitution"
    );
    assert_eq!(
        word("${X=a}", &[]).unwrap_err(),
        "unsupported modifier (=) in substitution"
    );
    assert_eq!(
        word("${X:=a}", &["X=1"]).unwrap_err(),
        "unsupported modifier (:=) in substitution"
    );
    assert_eq!(
        word("${X:y}", &["X=1"]).unwrap_err(),
        "unsupported modifier (:y) in substitution"
    );
    for m in ["#", "##", "%", "%%"] {
        assert_eq!(
            word(&format!("${{X:{m}a}}"), &["X=1"]).unwrap_err(),
            format!("unsupported modifier (:{}) in substitution", &m[..1])
        );
    }
}

#[test]
fn default_forms() {
    let e = ["SET=v", "EMPTY="];
    assert_eq!(ok("${SET:-d}", &e), "v");
    assert_eq!(ok("${EMPTY:-d}", &e), "d");
    assert_eq!(ok("${NONE:-d}", &e), "d");
    assert_eq!(ok("${SET-d}", &e), "v");
    assert_eq!(ok("${EMPTY-d}", &e), "");
    assert_eq!(ok("${NONE-d}", &e), "d");
    assert_eq!(ok("${NONE:-$SET/x}", &e), "v/x");
    assert_eq!(ok("${NONE:-${EMPTY:-in}}", &e), "in");
    assert_eq!(ok("${NONE:-a b}", &e), "a b");
    assert_eq!(ok("${NONE:-\\$SET}", &e), "$SET");
    assert_eq!(ok("${NONE:-\\}}", &e), "}");
}

#[test]
fn alternative_forms() {
    let e = ["SET=v", "EMPTY="];
    assert_eq!(ok("${SET:+alt}", &e), "alt");
    assert_eq!(ok("${EMPTY:+alt}", &e), "");
    assert_eq!(ok("${NONE:+alt}", &e), "");
    assert_eq!(ok("${SET+alt}", &e), "alt");
    assert_eq!(ok("${EMPTY+alt}", &e), "alt");
    assert_eq!(ok("${NONE+alt}", &e), "");
    assert_eq!(ok("v${SET:+-$SET}", &e), "v-v");
}

#[test]
fn required_forms() {
    let e = ["SET=v", "EMPTY=", "W=world"];
    assert_eq!(ok("${SET:?}", &e), "v");
    assert_eq!(ok("${SET?}", &e), "v");
    assert_eq!(ok("${EMPTY?}", &e), "");
    assert_eq!(
        word("${NONE?}", &e).unwrap_err(),
        "NONE: is not allowed to be unset"
    );
    assert_eq!(
        word("${NONE:?}", &e).unwrap_err(),
        "NONE: is not allowed to be unset"
    );
    assert_eq!(
        word("${EMPTY:?}", &e).unwrap_err(),
        "EMPTY: is not allowed to be empty"
    );
    assert_eq!(
        word("${EMPTY:?hello $W}", &e).unwrap_err(),
        "EMPTY: hello world"
    );
    assert_eq!(word("${NONE?need it}", &e).unwrap_err(), "NONE: need it");
}

#[test]
fn prefix_removal() {
    let e = ["P=/usr/local/bin", "F=a.tar.gz"];
    assert_eq!(ok("${P#/usr}", &e), "/local/bin");
    assert_eq!(ok("${P#*/}", &e), "usr/local/bin");
    assert_eq!(ok("${P##*/}", &e), "bin");
    assert_eq!(ok("${P#nomatch}", &e), "/usr/local/bin");
    assert_eq!(ok("${P#}", &e), "/usr/local/bin");
    assert_eq!(ok("${P##}", &e), "/usr/local/bin");
    assert_eq!(ok("${F#?.}", &e), "tar.gz");
    assert_eq!(ok("${F#*}", &e), "a.tar.gz");
    assert_eq!(ok("${F##*}", &e), "");
    assert_eq!(ok("${NONE#x}", &e), "");
}

#[test]
fn suffix_removal() {
    let e = ["F=a.tar.gz", "S=x**"];
    assert_eq!(ok("${F%.*}", &e), "a.tar");
    assert_eq!(ok("${F%%.*}", &e), "a");
    assert_eq!(ok("${F%gz}", &e), "a.tar.");
    assert_eq!(ok("${F%x}", &e), "a.tar.gz");
    assert_eq!(ok("${F%}", &e), "a.tar.gz");
    assert_eq!(ok("${S%%\\**}", &e), "x");
    assert_eq!(ok("${S%\\*}", &e), "x*");
}

#[test]
fn pattern_special_characters() {
    // Regexp metacharacters are literal; `\}` protects the brace.
    let e = ["V=(a)[b]{c}^$.+|x"];
    assert_eq!(ok("${V#(a)[b]{c\\}^$.+|}", &e), "x");
    // A `?` escaped matches itself only.
    assert_eq!(ok("${Q#?\\?}", &["Q=???z"]), "?z");
    assert_eq!(
        word("${V#\\x}", &e).unwrap_err(),
        "invalid pattern (\\x) in substitution: invalid escape '\\x'"
    );
    // Wildcards do not cross newlines, like regexp `.`.
    assert_eq!(ok("${M#*b}", &["M=a\nb"]), "a\nb");
    assert_eq!(ok("${M#a?b}", &["M=a\nb"]), "a\nb");
}

#[test]
fn pattern_from_variable() {
    let e = ["F=xxyy", "PX=x", "PE="];
    assert_eq!(ok("${F#$PX}", &e), "xyy");
    assert_eq!(ok("${F##$PX}", &e), "xyy");
    assert_eq!(ok("${F#$PE}", &e), "xxyy");
    assert_eq!(ok("${F#*x*y}", &e), "y");
    assert_eq!(ok("${F##*x}", &e), "yy");
}

#[test]
fn replacement_forms() {
    let e = [
        "F=/a/b/a/c",
        "URL=http://host",
        "N=/?/",
        "R=/",
        "FROM=http://",
        "TO=https://",
    ];
    assert_eq!(ok("${F/a/X}", &e), "/X/b/a/c");
    assert_eq!(ok("${F//a/X}", &e), "/X/b/X/c");
    assert_eq!(ok("${F/$N/$R}", &e), "/b/a/c");
    assert_eq!(ok("${F//$N/$R}", &e), "/b/c");
    assert_eq!(ok("${URL/$FROM/$TO}", &e), "https://host");
    assert_eq!(ok("${F/zz/X}", &e), "/a/b/a/c");
    assert_eq!(ok("${F//\\//_}", &e), "_a_b_a_c");
    // The replacement keeps its escapes.
    assert_eq!(ok("${F//\\//\\/}", &e), "\\/a\\/b\\/a\\/c");
    assert_eq!(ok("${F/a*/X}", &e), "/X");
    assert_eq!(ok("${F///}", &e), "/a/b/a/c");
    assert_eq!(ok("${NONE/a/b}", &e), "");
    assert_eq!(
        word("${F//x}", &e).unwrap_err(),
        "syntax error: missing '/' in ${}"
    );
    assert_eq!(
        word("${F/x/y", &e).unwrap_err(),
        "syntax error: missing '}'"
    );
}

#[test]
fn replacement_empty_pattern_and_templates() {
    let e = ["F=ab", "E=", "D=[$0]", "DD=$$", "BAD=${x"];
    // An empty pattern matches at the start (and between characters).
    assert_eq!(ok("${F/$E/-}", &e), "-ab");
    assert_eq!(ok("${F//$E/-}", &e), "-a-b-");
    // Replace-all goes through Go's template expansion.
    assert_eq!(ok("${F//a/$D}", &e), "[a]b");
    assert_eq!(ok("${F/a/$D}", &e), "[$0]b");
    assert_eq!(ok("${F//a/$DD}", &e), "$b");
    assert_eq!(ok("${F//a/$BAD}", &e), "${xb");
}

#[test]
fn field_splitting() {
    let e = ["SP=a  b", "LEAD=  x y", "TR=p q  "];
    assert_eq!(words("one two  three", &e), ["one", "two", "three"]);
    assert_eq!(words("x${SP}y", &e), ["xa", "by"]);
    assert_eq!(words("x\"${SP}\"y", &e), ["xa  by"]);
    assert_eq!(words("${LEAD}", &e), ["x", "y"]);
    assert_eq!(words("w${LEAD}", &e), ["w", "x", "y"]);
    assert_eq!(words("${TR}z", &e), ["p", "q", "z"]);
    assert_eq!(words("a\\ b c", &e), ["a b", "c"]);
    assert_eq!(words("'a  b' c", &e), ["a  b", "c"]);
    assert_eq!(words("''", &e), Vec::<String>::new());
    assert_eq!(words("", &e), Vec::<String>::new());
    assert_eq!(words("80/tcp 443", &e), ["80/tcp", "443"]);
}

#[test]
fn field_splitting_quirk_inside_braces() {
    // BuildKit drops the partial field before a `${X:-...}` form.
    assert_eq!(words("a${NONE:-b}", &[]), ["b"]);
    assert_eq!(words("a ${NONE:-b}", &[]), ["a", "b"]);
}

#[test]
fn heredoc_marker_stays_one_field() {
    assert_eq!(words("cat << EOF", &[]), ["cat", "<< EOF"]);
    assert_eq!(words("a<b", &[]), ["a<b"]);
    assert_eq!(ok("cat <<EOF", &[]), "cat <<EOF");
}

#[test]
fn matches_are_reported() {
    let lex = Lex::new('\\');
    let e = env(&["A=1", "B=", "C=3"]);
    let r = lex
        .process_word_with_matches("$A ${B:-x} ${Z-d} ${C#$Y}", &e)
        .unwrap();
    assert_eq!(r.result, "1 x d 3");
    assert_eq!(r.matched, ["A", "B", "C"].map(String::from).into());
    assert_eq!(r.unmatched, ["Y", "Z"].map(String::from).into());

    // Variables in a branch that is not taken are still looked up.
    let r = lex.process_word_with_matches("${A:+$Q}", &e).unwrap();
    assert_eq!(r.matched, ["A"].map(String::from).into());
    assert_eq!(r.unmatched, ["Q"].map(String::from).into());

    let r = lex.process_word_with_matches("plain", &e).unwrap();
    assert!(r.matched.is_empty() && r.unmatched.is_empty());
}

#[test]
fn skip_unset_env_keeps_references() {
    let mut lex = Lex::new('\\');
    lex.skip_unset_env = true;
    let e = env(&["A=1"]);
    let w = |s: &str| lex.process_word(s, &e).unwrap();
    assert_eq!(w("$A $U"), "1 $U");
    assert_eq!(w("${U}"), "${U}");
    assert_eq!(w("${U:-d}"), "${U:-d}");
    assert_eq!(w("${U#p}"), "${U#p}");
    assert_eq!(w("${U//a/b}"), "${U/a/b}");
    assert_eq!(w("${A:-d}"), "1");
    // Unset-with-bad-modifier is not checked when kept.
    assert_eq!(w("${U:=x}"), "${U:=x}");
}

#[test]
fn raw_quotes_and_escapes() {
    let mut lex = Lex::new('\\');
    lex.raw_quotes = true;
    let e = env(&["A=1"]);
    assert_eq!(lex.process_word("'a' \"$A\"", &e).unwrap(), "'a' \"1\"");
    let mut lex = Lex::new('\\');
    lex.raw_escapes = true;
    assert_eq!(
        lex.process_word("a\\ b \"\\$A\"", &e).unwrap(),
        "a\\ b \\$A"
    );
    let mut lex = Lex::new('\\');
    lex.skip_process_quotes = true;
    assert_eq!(lex.process_word("'$A'", &e).unwrap(), "'1'");
}

#[test]
fn unicode_words() {
    let e = ["K=한국어"];
    assert_eq!(ok("안'녕'$K", &e), "안녕한국어");
    assert_eq!(ok("${K#한}", &e), "국어");
    assert_eq!(ok("${K%?}", &e), "한국");
    assert_eq!(words("가 나", &e), ["가", "나"]);
}

#[test]
fn pattern_helpers() {
    assert_eq!(reverse_pattern("a\\*c"), "c\\*a");
    assert_eq!(reverse_pattern("ab\\"), "\\ba");
    assert_eq!(reverse_pattern("\\\\b"), "b\\\\");
    assert!(Pattern::compile("\\", true).is_err());
    assert!(Pattern::compile("\\\\\\", true).is_err());
    assert!(Pattern::compile("\\*\\?\\\\", true).is_ok());
}

#[test]
fn long_values_do_not_blow_up() {
    let long = format!("V={}", "a".repeat(5000));
    assert_eq!(ok("${V%%*b}", &[&long]).len(), 5000);
    assert_eq!(ok("${V//a/}", &[&long]), "");
}

#[test]
fn go_quote_matches_go() {
    assert_eq!(go_quote("a\"b\\c\n\t\u{1}"), "\"a\\\"b\\\\c\\n\\t\\x01\"");
    assert_eq!(go_quote("한"), "\"한\"");
}

#[test]
fn leading_byte_order_mark_is_skipped() {
    assert_eq!(ok("\u{FEFF}$A", &["A=1"]), "1");
    assert_eq!(ok("x\u{FEFF}", &[]), "x\u{FEFF}");
}
