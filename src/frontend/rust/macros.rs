//! The file's own `macro_rules!` macros, and those other files of the project define (see
//! [`ProjectMacros`]), expanded where they are invoked before the file is lowered: a lock taken or a blocking call made in a macro's body is then seen at the
//! invocation, like code written there (`remove_client!(id, state)` taking `state.write()`
//! inside a loop over `state.read()`). Only simple macros: arms whose matcher is a list of
//! `$name:fragment` separated by punctuation, without repetitions; the first arm with as many
//! fragments as the invocation has parts is used. Every expanded token takes the span of the
//! invocation, so what the expansion does is placed where it runs.

use rustc_hash::FxHashMap as HashMap;
use syn::ext::IdentExt;

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::visit_mut::{self, VisitMut};
use syn::{Expr, ImplItem, Item, Stmt};

/// How deep expansions may nest (a macro that invokes a macro …).
const MAX_DEPTH: usize = 4;

/// How many expanded tokens a file may get in all: a macro that invokes others many times
/// each must not multiply the file (memory stays bounded on hostile input).
const MAX_EXPANDED_TOKENS: usize = 200_000;

/// One arm: its fragments' names, and the tokens it expands to.
struct Arm {
    names: Vec<String>,
    body: TokenStream,
}

/// The `macro_rules!` macros the project's files define, for the files that invoke one of
/// another file (`zread!(self.state)` with `zread` exported by a crate of the workspace): by
/// name, the definition's tokens as text (token streams stay on the thread that made them),
/// or `None` for a name that files define differently.
#[derive(Debug, Default)]
pub struct ProjectMacros {
    by_name: HashMap<String, Option<String>>,
}

/// A definition longer than this is not shared with other files.
const MAX_SHARED_DEFINITION: usize = 16 * 1024;

impl ProjectMacros {
    /// The macros of a set of Rust files' texts.
    pub fn of_texts<'t>(texts: impl rayon::iter::ParallelIterator<Item = &'t str>) -> Self {
        use rayon::iter::ParallelIterator as _;
        let found: Vec<(String, String)> = texts.flat_map_iter(defined_in).collect();
        let mut macros = ProjectMacros::default();
        for (name, definition) in found {
            match macros.by_name.get(&name) {
                Some(Some(known)) if *known != definition => {
                    macros.by_name.insert(name, None);
                }
                Some(_) => {}
                None => {
                    macros.by_name.insert(name, Some(definition));
                }
            }
        }
        macros
    }

    /// Adds the macros of more files (a language server's edited ones); a name they define
    /// otherwise than known becomes ambiguous.
    pub fn add(&mut self, more: ProjectMacros) {
        for (name, definition) in more.by_name {
            let merged = match (self.by_name.remove(&name), definition) {
                (None, definition) => definition,
                (Some(Some(known)), Some(definition)) if known == definition => Some(known),
                _ => None,
            };
            self.by_name.insert(name, merged);
        }
    }
}

/// The simple `macro_rules!` definitions of a file, as text: read from its tokens (cheaper
/// than a parse), also inside braces (inline modules).
fn defined_in(text: &str) -> Vec<(String, String)> {
    if memchr::memmem::find(text.as_bytes(), b"macro_rules!").is_none() {
        return Vec::new();
    }
    let Ok(tokens) = super::limits::blank_bom_and_shebang(text).parse::<TokenStream>() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    let mut pending = vec![tokens];
    while let Some(tokens) = pending.pop() {
        let tokens: Vec<TokenTree> = tokens.into_iter().collect();
        for (i, token) in tokens.iter().enumerate() {
            match (
                token,
                tokens.get(i + 1),
                tokens.get(i + 2),
                tokens.get(i + 3),
            ) {
                (
                    TokenTree::Ident(keyword),
                    Some(TokenTree::Punct(bang)),
                    Some(TokenTree::Ident(name)),
                    Some(TokenTree::Group(body)),
                ) if keyword == "macro_rules" && bang.as_char() == '!' => {
                    let definition = body.stream().to_string();
                    if definition.len() <= MAX_SHARED_DEFINITION && !arms(body.stream()).is_empty()
                    {
                        found.push((name.to_string(), definition));
                    }
                }
                (TokenTree::Group(group), ..) if group.delimiter() == Delimiter::Brace => {
                    pending.push(group.stream());
                }
                _ => {}
            }
        }
    }
    found
}

/// Expands the file's simple `macro_rules!` macros in place, and those of other files of the
/// project it invokes (not a name the file imports from elsewhere: `use tracing::debug;`).
pub(super) fn expand(file: &mut syn::File, project: &ProjectMacros) {
    let mut macros = HashMap::default();
    collect(&file.items, &mut macros);
    if macros.is_empty() && project.by_name.is_empty() {
        return;
    }
    let mut imported = Vec::new();
    imported_from_elsewhere(&file.items, &mut imported);
    Expander {
        macros,
        project,
        imported,
        depth: 0,
        budget: MAX_EXPANDED_TOKENS,
    }
    .visit_file_mut(file);
}

/// The names `use` items bring from another crate than this one's (`use tracing::debug;`,
/// not `use crate::zread;`): a project macro of the same name is not the one invoked. A
/// workspace crate's (`use zenoh_core::zread;`) cannot be told from a dependency's here, so
/// only paths of the standard library and of well-known logging crates count.
fn imported_from_elsewhere(items: &[Item], names: &mut Vec<String>) {
    fn walk(tree: &syn::UseTree, root: Option<&str>, names: &mut Vec<String>) {
        match tree {
            syn::UseTree::Path(path) => {
                let root = root.map_or_else(|| path.ident.unraw().to_string(), str::to_string);
                walk(&path.tree, Some(&root), names);
            }
            syn::UseTree::Name(name) if root.is_some_and(is_foreign_macro_crate) => {
                names.push(name.ident.unraw().to_string());
            }
            syn::UseTree::Rename(rename) if root.is_some_and(is_foreign_macro_crate) => {
                names.push(rename.rename.to_string());
            }
            syn::UseTree::Group(group) => {
                for tree in &group.items {
                    walk(tree, root, names);
                }
            }
            _ => {}
        }
    }
    for item in items {
        if let Item::Use(used) = item {
            walk(&used.tree, None, names);
        }
    }
}

/// Crates whose macros share names with macros projects define for themselves (`debug!`,
/// `info!`, `trace!`, `error!`, `warn!`, `vec!`, `format!`).
fn is_foreign_macro_crate(root: &str) -> bool {
    matches!(
        root,
        "std" | "core" | "alloc" | "log" | "tracing" | "slog" | "defmt" | "anyhow" | "futures"
    )
}

/// The `macro_rules!` definitions among items, also in inline modules.
fn collect(items: &[Item], macros: &mut HashMap<String, Vec<Arm>>) {
    for item in items {
        match item {
            Item::Macro(definition) if definition.mac.path.is_ident("macro_rules") => {
                if let Some(name) = &definition.ident {
                    let arms = arms(definition.mac.tokens.clone());
                    if !arms.is_empty() {
                        macros.insert(name.to_string(), arms);
                    }
                }
            }
            Item::Mod(module) => {
                if let Some((_, items)) = &module.content {
                    collect(items, macros);
                }
            }
            _ => {}
        }
    }
}

/// The simple arms of a `macro_rules!` body: `(matcher) => {body}` separated by `;`.
fn arms(tokens: TokenStream) -> Vec<Arm> {
    let tokens: Vec<TokenTree> = tokens.into_iter().collect();
    let mut arms = Vec::new();
    let mut i = 0;
    while let (
        Some(TokenTree::Group(matcher)),
        Some(TokenTree::Punct(eq)),
        Some(TokenTree::Punct(gt)),
        Some(TokenTree::Group(body)),
    ) = (
        tokens.get(i),
        tokens.get(i + 1),
        tokens.get(i + 2),
        tokens.get(i + 3),
    ) {
        if eq.as_char() != '=' || gt.as_char() != '>' {
            break;
        }
        if let Some(names) = fragment_names(matcher.stream()) {
            arms.push(Arm {
                names,
                body: body.stream(),
            });
        }
        i += 4;
        if matches!(tokens.get(i), Some(TokenTree::Punct(p)) if p.as_char() == ';') {
            i += 1;
        }
    }
    arms
}

/// `$id:expr, $s:expr` → `["id", "s"]`; `None` for any other shape (literal tokens,
/// repetitions).
fn fragment_names(matcher: TokenStream) -> Option<Vec<String>> {
    let tokens: Vec<TokenTree> = matcher.into_iter().collect();
    let mut names = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        match (
            &tokens[i],
            tokens.get(i + 1),
            tokens.get(i + 2),
            tokens.get(i + 3),
        ) {
            (
                TokenTree::Punct(dollar),
                Some(TokenTree::Ident(name)),
                Some(TokenTree::Punct(colon)),
                Some(TokenTree::Ident(_)),
            ) if dollar.as_char() == '$' && colon.as_char() == ':' => {
                names.push(name.to_string());
                i += 4;
            }
            (TokenTree::Punct(separator), ..) if matches!(separator.as_char(), ',' | ';') => i += 1,
            _ => return None,
        }
    }
    Some(names)
}

/// An invocation's arguments split at top-level commas and semicolons.
fn parts(tokens: TokenStream) -> Vec<TokenStream> {
    let mut parts = vec![Vec::new()];
    for token in tokens {
        match &token {
            TokenTree::Punct(p) if matches!(p.as_char(), ',' | ';') => parts.push(Vec::new()),
            _ => parts.last_mut().expect("one part").push(token),
        }
    }
    if parts.last().is_some_and(Vec::is_empty) {
        parts.pop();
    }
    parts.into_iter().map(TokenStream::from_iter).collect()
}

/// `body` with each `$name` replaced by its argument (several tokens in an invisible group,
/// which keeps an expression whole), every token placed at `at`.
fn substitute(body: TokenStream, bound: &HashMap<&str, TokenStream>, at: Span) -> TokenStream {
    let tokens: Vec<TokenTree> = body.into_iter().collect();
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        match (&tokens[i], tokens.get(i + 1)) {
            (TokenTree::Punct(dollar), Some(TokenTree::Ident(name)))
                if dollar.as_char() == '$' && bound.contains_key(name.to_string().as_str()) =>
            {
                let argument = respan(bound[name.to_string().as_str()].clone(), at);
                let mut tokens = argument.clone().into_iter();
                match (tokens.next(), tokens.next()) {
                    // One token (`Dynamic`, `state`) stands for itself: a type or a path too.
                    (Some(only), None) => out.push(only),
                    _ => {
                        let mut group = Group::new(Delimiter::None, argument);
                        group.set_span(at);
                        out.push(TokenTree::Group(group));
                    }
                }
                i += 2;
                continue;
            }
            (TokenTree::Group(group), _) => {
                let inner = substitute(group.stream(), bound, at);
                let mut group = Group::new(group.delimiter(), inner);
                group.set_span(at);
                out.push(TokenTree::Group(group));
            }
            (token, _) => {
                let mut token = token.clone();
                token.set_span(at);
                out.push(token);
            }
        }
        i += 1;
    }
    TokenStream::from_iter(out)
}

/// Every token of `tokens` placed at `at`.
fn respan(tokens: TokenStream, at: Span) -> TokenStream {
    substitute(tokens, &HashMap::default(), at)
}

struct Expander<'p> {
    macros: HashMap<String, Vec<Arm>>,
    /// Other files' macros, parsed into `macros` when first invoked.
    project: &'p ProjectMacros,
    /// Names the file imports from another crate (see [`imported_from_elsewhere`]).
    imported: Vec<String>,
    depth: usize,
    /// Expanded tokens the file may still get.
    budget: usize,
}

impl Expander<'_> {
    /// The tokens an invocation of one of the file's macros expands to.
    fn expansion(&mut self, mac: &syn::Macro) -> Option<TokenStream> {
        if self.depth >= MAX_DEPTH {
            return None;
        }
        let name = mac.path.get_ident()?.to_string();
        if !self.macros.contains_key(&name)
            && !self.imported.contains(&name)
            && let Some(Some(definition)) = self.project.by_name.get(&name)
        {
            let arms = definition
                .parse::<TokenStream>()
                .map_or_else(|_| Vec::new(), arms);
            self.macros.insert(name.clone(), arms);
        }
        let arms = self.macros.get(&name)?;
        let parts = parts(mac.tokens.clone());
        let arm = arms.iter().find(|arm| arm.names.len() == parts.len())?;
        let bound = arm
            .names
            .iter()
            .map(String::as_str)
            .zip(parts)
            .collect::<HashMap<_, _>>();
        let at = mac.path.segments.first()?.ident.span();
        let expanded = substitute(arm.body.clone(), &bound, at);
        self.budget = self.budget.checked_sub(count(&expanded))?;
        Some(expanded)
    }

    /// Expands what the expansion itself invokes, one level deeper.
    fn nested<T>(&mut self, node: &mut T, visit: fn(&mut Self, &mut T)) {
        self.depth += 1;
        visit(self, node);
        self.depth -= 1;
    }

    fn expand_items(&mut self, items: &mut Vec<Item>) {
        let mut expanded = Vec::with_capacity(items.len());
        for mut item in std::mem::take(items) {
            if let Item::Macro(invocation) = &item
                && let Some(tokens) = self.expansion(&invocation.mac)
                && let Ok(file) = syn::parse2::<syn::File>(tokens)
            {
                for mut generated in file.items {
                    self.nested(&mut generated, Self::visit_item_mut);
                    expanded.push(generated);
                }
                continue;
            }
            self.visit_item_mut(&mut item);
            expanded.push(item);
        }
        *items = expanded;
    }
}

impl VisitMut for Expander<'_> {
    fn visit_file_mut(&mut self, file: &mut syn::File) {
        self.expand_items(&mut file.items);
    }

    fn visit_item_mod_mut(&mut self, module: &mut syn::ItemMod) {
        if let Some((_, items)) = &mut module.content {
            self.expand_items(items);
        }
    }

    fn visit_item_impl_mut(&mut self, block: &mut syn::ItemImpl) {
        let mut expanded = Vec::with_capacity(block.items.len());
        for mut item in std::mem::take(&mut block.items) {
            if let ImplItem::Macro(invocation) = &item
                && let Some(tokens) = self.expansion(&invocation.mac)
                && let Ok(generated) = syn::parse::Parser::parse2(
                    |input: syn::parse::ParseStream| {
                        let mut items = Vec::new();
                        while !input.is_empty() {
                            items.push(input.parse::<ImplItem>()?);
                        }
                        Ok(items)
                    },
                    tokens,
                )
            {
                for mut generated in generated {
                    self.nested(&mut generated, Self::visit_impl_item_mut);
                    expanded.push(generated);
                }
                continue;
            }
            self.visit_impl_item_mut(&mut item);
            expanded.push(item);
        }
        block.items = expanded;
    }

    fn visit_stmt_mut(&mut self, stmt: &mut Stmt) {
        if let Stmt::Macro(invocation) = stmt
            && let Some(tokens) = self.expansion(&invocation.mac)
            && let Ok(block) = syn::parse2::<syn::Block>(braced(tokens))
        {
            let semi = invocation.semi_token;
            let mut expr = Expr::Block(syn::ExprBlock {
                attrs: Vec::new(),
                label: None,
                block,
            });
            self.nested(&mut expr, Self::visit_expr_mut);
            *stmt = Stmt::Expr(expr, semi);
            return;
        }
        visit_mut::visit_stmt_mut(self, stmt);
    }

    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        // An argument put in by an expansion: the tree keeps its grouping without the node
        // (which the lowering would not look through).
        while let Expr::Group(group) = expr {
            *expr = std::mem::replace(&mut *group.expr, Expr::PLACEHOLDER);
        }
        if let Expr::Macro(invocation) = expr
            && let Some(tokens) = self.expansion(&invocation.mac)
            && let Ok(block) = syn::parse2::<syn::Block>(braced(tokens))
        {
            *expr = Expr::Block(syn::ExprBlock {
                attrs: Vec::new(),
                label: None,
                block,
            });
            self.nested(expr, Self::visit_expr_mut);
            return;
        }
        stacker::maybe_grow(64 * 1024, 4 * 1024 * 1024, || {
            visit_mut::visit_expr_mut(self, expr)
        });
    }
}

/// `tokens` in braces, to parse as a block.
fn braced(tokens: TokenStream) -> TokenStream {
    let span = tokens
        .clone()
        .into_iter()
        .next()
        .map_or_else(Span::call_site, |t| t.span());
    let mut group = Group::new(Delimiter::Brace, tokens);
    group.set_span(span);
    TokenStream::from(TokenTree::Group(group))
}

/// How many tokens a stream has, groups' contents included.
fn count(tokens: &TokenStream) -> usize {
    tokens
        .clone()
        .into_iter()
        .map(|token| match token {
            TokenTree::Group(group) => 1 + count(&group.stream()),
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rayon::iter::IntoParallelIterator;

    fn expanded(code: &str, project: &ProjectMacros) -> String {
        let mut file = syn::parse_file(code).unwrap();
        expand(&mut file, project);
        quote::quote!(#file).to_string()
    }

    #[test]
    fn another_files_macro_is_expanded_unless_files_disagree_or_it_is_imported() {
        let locks = "macro_rules! zread { ($v:expr) => { $v.read().unwrap() }; }";
        let other = "macro_rules! zread { ($v:expr) => { $v.read() }; }";
        let user = "fn f(s: &S) { let g = zread!(s.state); }";
        let one = ProjectMacros::of_texts(vec![locks, user].into_par_iter());
        assert!(expanded(user, &one).contains("read () . unwrap ()"));
        // Two files define it differently: which one a file invokes is not known.
        let two = ProjectMacros::of_texts(vec![locks, other, user].into_par_iter());
        assert!(expanded(user, &two).contains("zread !"));
        // Imported from a logging crate: that crate's, not the project's.
        let logged = "use tracing::zread; fn f(s: &S) { let g = zread!(s.state); }";
        assert!(expanded(logged, &one).contains("zread !"));
        // Learning more files keeps a name whose definitions agree.
        let mut learned = ProjectMacros::default();
        learned.add(ProjectMacros::of_texts(vec![locks].into_par_iter()));
        learned.add(ProjectMacros::of_texts(vec![locks].into_par_iter()));
        assert!(expanded(user, &learned).contains("read () . unwrap ()"));
        learned.add(ProjectMacros::of_texts(vec![other].into_par_iter()));
        assert!(expanded(user, &learned).contains("zread !"));
    }
}
