//! Calls: the call facts (callee, context, blocking API, result use), the threads a call starts,
//! and arguments that ask a call not to block.

use ruff_python_ast::visitor::Visitor;
use ruff_python_ast::{self as ast, Expr};

use super::Lowerer;
use super::semantic::Binding;
use super::syntax::{dotted, is_false_literal, is_zero_literal, made_non_blocking, span};
use crate::codes::Code;
use crate::knowledge::{ProcessTarget, Returns};
use crate::model::{
    Call, Context, ObjectArgument, Receiver, ResultUse, Span, ThreadEntry, concat, parts_hash,
};
use thin_vec::ThinVec;

/// Methods of `dict`, `set` and `list` that add or remove items in place in a way a loop over
/// the container sees: a size change of a dict or set raises in the loop, a removal or an
/// insertion shifts a list under it. (`append` and `extend` only add items a list loop reaches
/// later: not a hazard.)
/// The methods of a request handler that serve a request (`socketserver`, `http.server`).
const REQUEST_METHODS: &[&str] = &[
    "handle",
    "setup",
    "finish",
    "do_GET",
    "do_POST",
    "do_PUT",
    "do_DELETE",
    "do_HEAD",
    "do_PATCH",
    "do_OPTIONS",
];

const CHANGES_IN_PLACE: &[&str] = &[
    "pop",
    "popitem",
    "clear",
    "update",
    "setdefault",
    "insert",
    "remove",
    "add",
    "discard",
];

/// Files kept in memory: what a file API reads from or writes to one is no disk I/O.
const MEMORY_BUFFERS: &[&str] = &["io.BytesIO", "io.StringIO"];

/// The type `open()` and its kin return (`rules/types.toml`).
const FILE_TYPE: &str = "io.TextIOWrapper";

/// The methods of `socketserver.ThreadingMixIn`'s server that run on the request's own
/// thread (`process_request_thread` and what it calls), on the one server object.
const REQUEST_THREAD_METHODS: &[&str] = &[
    "process_request_thread",
    "finish_request",
    "shutdown_request",
    "close_request",
    "handle_error",
];

/// How many attributes and calls a receiver's shape follows (`a.b().c.d()`).
const MAX_SHAPE_DEPTH: usize = 8;
impl<'a> Lowerer<'a> {
    /// `ThreadingHTTPServer(addr, Handler)`: each request runs a new `Handler`'s request
    /// methods on a thread of its own, at once with the others.
    fn request_handlers(&mut self, handler: &Expr) {
        let Some(class) = self.semantic.resolve(handler) else {
            return;
        };
        for method in REQUEST_METHODS {
            let started = ThreadEntry {
                repeated: true,
                fresh_object: true,
                ..ThreadEntry::of_function(span(handler), concat(&[&class, ".", method]))
            };
            self.model.functions[self.current]
                .thread_entries
                .push(started);
        }
    }

    /// `class Greeter(greeter_pb2_grpc.GreeterServicer)`: a server runs the class's plain
    /// public methods on its thread pool, at once for several requests, on the one servicer
    /// object (`servicer_bases` in `rules/threads.toml`). Likewise a threading server's
    /// methods that run on each request's thread ([`REQUEST_THREAD_METHODS`]).
    pub(super) fn servicer_methods(
        &mut self,
        class: &str,
        def: &ast::StmtClassDef,
        bases: &[String],
    ) {
        let servicer = bases.iter().any(|b| self.tables.servicer_bases.is_match(b));
        // A project subclass of a threading server (`class Server(ThreadingHTTPServer)`): its
        // overrides of what runs on each request's thread share the one server object.
        let tables = self.tables;
        let server = self
            .semantic
            .library_base_among(class, |base| {
                tables
                    .thread_entry(Some(base), None)
                    .is_some_and(|e| e.handler)
            })
            .is_some();
        if !servicer && !server {
            return;
        }
        for stmt in &def.body {
            let ast::Stmt::FunctionDef(method) = stmt else {
                continue;
            };
            let runs_per_request = match servicer {
                true => !method.is_async && !method.name.starts_with('_'),
                false => REQUEST_THREAD_METHODS.contains(&method.name.as_str()),
            };
            if !runs_per_request {
                continue;
            }
            let target = concat(&[class, ".", method.name.as_str()]);
            let started = ThreadEntry {
                repeated: true,
                ..ThreadEntry::of_function(span(&method.name), target)
            };
            self.model.functions[self.current]
                .thread_entries
                .push(started);
        }
    }

    /// The types of the objects a repeated thread start hands to `callable` that are the same
    /// object on every start: names bound outside the enclosing loops (or their attributes),
    /// `self` and its attributes; in `args=(..)`/`kwargs={..}` too. Not an object made in the
    /// call (`args=(Catalog(),)`) or by the loop.
    fn shared_arguments(&self, arguments: &ast::Arguments, callable: &Expr) -> ThinVec<String> {
        fn objects<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
            match expr {
                Expr::Tuple(ast::ExprTuple { elts, .. })
                | Expr::List(ast::ExprList { elts, .. }) => {
                    elts.iter().for_each(|e| objects(e, out));
                }
                Expr::Dict(dict) => dict.items.iter().for_each(|item| objects(&item.value, out)),
                Expr::Name(_) | Expr::Attribute(_) => out.push(expr),
                _ => {}
            }
        }
        let mut handed = Vec::new();
        let values = arguments
            .args
            .iter()
            .chain(arguments.keywords.iter().map(|k| &k.value));
        for value in values.filter(|v| !std::ptr::eq(*v, callable)) {
            objects(value, &mut handed);
        }
        let mut shared = ThinVec::new();
        for object in handed {
            let Expr::Name(root) = super::syntax::attribute_root(object) else {
                continue;
            };
            if self
                .loop_bound
                .iter()
                .any(|bound| bound == root.id.as_str())
            {
                continue;
            }
            if let Some(Returns::One(ty)) = self.semantic.type_of(object)
                && !shared.contains(&ty)
            {
                shared.push(ty);
            }
        }
        shared
    }

    /// `with Exclusive(obj):` of a class of known type: entering runs its `__enter__`
    /// (`__aenter__`, awaited, for `async with`), leaving its `__exit__`; recorded as calls at
    /// the context expression (the project phase resolves them where the project defines
    /// them, through base classes and other modules too).
    pub(super) fn context_manager_call(&mut self, manager: &Expr, method: &str, awaited: bool) {
        let Some(Returns::One(class)) = self.semantic.type_of(manager) else {
            return;
        };
        let callee = concat(&[&class, ".", method]);
        self.push_implicit_call(callee, method, span(manager), Receiver::Other, 0, awaited);
    }

    /// `self.conn` where `conn` is a `@property` of the object's class (of this file, or a
    /// base of this file): the read calls the getter, recorded as a call of it.
    pub(super) fn property_read(&mut self, attribute: &ast::ExprAttribute) {
        let name = attribute.attr.id.as_str();
        self.member_call(&attribute.value, name, span(attribute), Member::Property);
    }

    /// `self[key]` (also stored or deleted) on an object of a class of this file that defines
    /// `__getitem__` (`__setitem__`, `__delitem__`), itself or through a base of this file:
    /// recorded as a call of that method.
    pub(super) fn item_access(&mut self, subscript: &ast::ExprSubscript, method: &str) {
        if !self.semantic.classes.is_empty() {
            self.member_call(&subscript.value, method, span(subscript), Member::Method);
        }
    }

    /// Records the call of `member` of `object`'s class (of this file, or a base of this file)
    /// that the code makes without call syntax, if that class defines it.
    fn member_call(&mut self, object: &Expr, member: &str, at: Span, kind: Member) {
        let Some(Returns::One(mut class)) = self.semantic.type_of(object) else {
            return;
        };
        let mut owner = None;
        for _ in 0..8 {
            let Some(info) = self.semantic.classes.get(&class) else {
                break;
            };
            let defined = match kind {
                Member::Property => info.properties.contains(member),
                Member::Method => info.methods.contains(member),
            };
            if defined {
                owner = Some(class);
                break;
            }
            // A method of the same name hides a base's property.
            let hidden = kind == Member::Property && info.methods.contains(member);
            match info.bases.first() {
                Some(base) if !hidden => class = base.clone(),
                _ => break,
            }
        }
        let Some(owner) = owner else {
            return;
        };
        let receiver = self.semantic.receiver(object);
        let held = match receiver {
            Receiver::Own => 0,
            _ => self
                .held_objects
                .of_receiver(self.current, || dotted(object)),
        };
        let callee = concat(&[&owner, ".", member]);
        self.push_implicit_call(callee, member, at, receiver, held, false);
    }

    /// Records a call the code makes without call syntax (a property read, a `with`
    /// statement's `__enter__`), its result used.
    fn push_implicit_call(
        &mut self,
        callee: String,
        method: &str,
        span: Span,
        receiver: Receiver,
        object: u32,
        awaited: bool,
    ) {
        let index = self.model.functions[self.current].calls.len();
        self.note_condition(index);
        let mut call = self.implicit_call(callee, method, span);
        (call.receiver, call.object, call.awaited) = (receiver, object, awaited);
        self.model.functions[self.current].calls.push(call);
    }

    /// Whether a call's callable is one the function asked `iscoroutinefunction` about.
    fn is_coroutine_checked(&self, func: &Expr) -> bool {
        matches!(func, Expr::Name(name) if self.coroutine_checked.iter().any(|c| c == name.id.as_str()))
    }

    /// A call the code makes without call syntax, on no object of its own, its result used.
    fn implicit_call(&self, callee: String, method: &str, span: Span) -> Call {
        Call {
            callee: Some(callee),
            method: Some(method.to_string()),
            span,
            context: self.context,
            non_blocking: false,
            alternatives: thin_vec::ThinVec::new(),
            receiver: Receiver::Other,
            scheduled: false,
            closure: self.closure,
            object: 0,
            awaited: false,
            result: ResultUse::Used,
            blocking: None,
            positional_arguments: 0,
            object_arguments: thin_vec::ThinVec::new(),
        }
    }

    /// `f = open(p)` or `with open(p) as f`: notes that `f` is a file this function opened
    /// with a blocking call, which is where the file work is reported (once: a `noqa` there
    /// covers the reads and writes that follow). `g = f` names the same file.
    /// How a receiver of unknown type is reached from an input of the function, as written
    /// (`message.channel`, `bot.get_channel()` whatever the arguments, or a local bound to
    /// such a call): calls of one shape across the project are taken to return alike. An
    /// attribute of `self` is named as the parameter it conventionally keeps (`self.bot`
    /// set from `bot`: both are `bot`).
    fn receiver_shape(&self, receiver: &Expr, depth: usize) -> Option<String> {
        let depth = depth.checked_sub(1)?;
        match receiver {
            Expr::Name(name) if self.is_input_parameter(name.id.as_str()) => {
                Some(name.id.to_string())
            }
            Expr::Attribute(attr) if matches!(attr.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == self.semantic.self_name()) => {
                Some(attr.attr.id.to_string())
            }
            Expr::Name(name) => self
                .semantic
                .scopes
                .last()?
                .shapes
                .get(name.id.as_str())
                .cloned(),
            Expr::Attribute(attr) => Some(concat(&[
                &self.receiver_shape(&attr.value, depth)?,
                ".",
                attr.attr.id.as_str(),
            ])),
            Expr::Call(call) if matches!(call.func.as_ref(), Expr::Attribute(_)) => {
                Some(concat(&[&self.receiver_shape(&call.func, depth)?, "()"]))
            }
            _ => None,
        }
    }

    /// `channel = bot.get_channel(id)` or `bot = context.bot` with `bot`, `context` inputs of
    /// unknown type: the local has the value's shape (see [`Self::receiver_shape`]).
    pub(super) fn note_shape(&mut self, target: &Expr, value: &Expr) {
        let Expr::Name(name) = target else {
            return;
        };
        let reached = match value {
            Expr::Call(call) => call.func.as_ref(),
            attribute @ Expr::Attribute(_) => attribute,
            _ => return,
        };
        if !matches!(reached, Expr::Attribute(_)) || self.semantic.resolve(reached).is_some() {
            return;
        }
        if let Some(shape) = self.receiver_shape(value, MAX_SHAPE_DEPTH)
            && let Some(scope) = self.semantic.scopes.last_mut()
        {
            scope.shapes.insert(name.id.to_string(), shape);
        }
    }

    pub(super) fn note_opened(&mut self, target: &Expr, value: &Expr) {
        let Expr::Name(name) = target else {
            return;
        };
        let opening = match value {
            Expr::Name(other) => self.semantic.opened_by(other.id.as_str()),
            Expr::Call(call) if matches!(self.semantic.type_of(value), Some(Returns::One(ty)) if ty == FILE_TYPE) =>
            {
                let opening = span(call);
                self.model.functions[self.current]
                    .calls
                    .iter()
                    .rposition(|c| c.span == opening && c.blocking.is_some())
                    .map(|index| index as u32)
            }
            _ => None,
        };
        if let Some(index) = opening
            && let Some(scope) = self.semantic.scopes.last_mut()
        {
            scope.opened.insert(name.id.to_string(), index);
        }
    }

    /// Whether a method call's receiver was made non-blocking: earlier in this function
    /// (`sock.setblocking(False)`), or, for an attribute of `self`, by a method of its class
    /// lowered before this one (its constructor).
    /// A call that makes it so is noted here for the calls after it.
    fn on_non_blocking_socket(&mut self, call: &ast::ExprCall) -> bool {
        if let Some(receiver) = made_non_blocking(call) {
            // `self._sock.setblocking(False)`: for the methods of the class lowered after this
            // one (a constructor comes first), too.
            if let Expr::Attribute(field) = receiver
                && matches!(field.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == self.semantic.self_name())
                && let Some(class) = self.semantic.self_class_mut()
            {
                class.non_blocking.push(field.attr.id.to_string());
            }
            let written = dotted(receiver);
            if let Some(scope) = self.semantic.scopes.last_mut() {
                scope.non_blocking.insert(written);
            }
            return false;
        }
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return false;
        };
        let receiver = attr.value.as_ref();
        if matches!(attr.attr.id.as_str(), "connect" | "send" | "sendto")
            && let Expr::Name(name) = receiver
            && self
                .semantic
                .scopes
                .last()
                .is_some_and(|s| s.datagram_sockets.contains(name.id.as_str()))
        {
            return true;
        }
        if let Expr::Attribute(field) = receiver
            && matches!(field.value.as_ref(), Expr::Name(n) if Some(n.id.as_str()) == self.semantic.self_name())
            && self
                .semantic
                .self_class()
                .is_some_and(|class| class.non_blocking.iter().any(|a| *a == field.attr.id))
        {
            return true;
        }
        matches!(receiver, Expr::Name(_) | Expr::Attribute(_))
            && self
                .semantic
                .scopes
                .last()
                .is_some_and(|s| s.non_blocking.contains(&dotted(receiver)))
    }

    /// Whether a call is a queue's `get()` that takes an item this function put in it before,
    /// into a queue it made (`q = Queue(); q.put(None); q.get()`: it returns at once). A `put()` is noted here for the `get()`s
    /// after it.
    fn takes_own_item(&mut self, call: &ast::ExprCall) -> bool {
        let Expr::Attribute(attr) = call.func.as_ref() else {
            return false;
        };
        let receiver = attr.value.as_ref();
        if !matches!(receiver, Expr::Name(_) | Expr::Attribute(_)) {
            return false;
        }
        let Some(scope) = self.semantic.scopes.last_mut() else {
            return false;
        };
        match attr.attr.id.as_str() {
            // Only into a queue this function made (`q = Queue()`, `self.q = ctx.Queue()`
            // earlier in it): no other thread has it yet to take the item first.
            "put" | "put_nowait" => {
                let made_here = match receiver {
                    Expr::Name(name) => {
                        matches!(
                            scope.bindings.get(name.id.as_str()),
                            Some(Binding::Local(Some(_)))
                        ) && !scope.declared.contains_key(name.id.as_str())
                    }
                    Expr::Attribute(field) => {
                        matches!(field.value.as_ref(), Expr::Name(n) if scope.self_name.as_deref() == Some(n.id.as_str()))
                            && scope
                                .assigned_attributes
                                .contains_key(field.attr.id.as_str())
                    }
                    _ => false,
                };
                if made_here {
                    *scope.own_items.entry(dotted(receiver)).or_default() += 1;
                }
                false
            }
            "get" => match scope.own_items.get_mut(&dotted(receiver)) {
                Some(items) if *items > 0 => {
                    *items -= 1;
                    true
                }
                _ => false,
            },
            _ => false,
        }
    }

    /// Notes a local bound to a new datagram socket (`sock = socket.socket(family,
    /// socket.SOCK_DGRAM)`, also `type=socket.SOCK_DGRAM`); any other binding forgets it.
    pub(super) fn note_datagram_socket(&mut self, local: &str, value: &Expr) {
        let datagram = match value {
            Expr::Call(call)
                if self.semantic.resolve(&call.func).as_deref() == Some("socket.socket") =>
            {
                let kind = call.arguments.args.get(1).or_else(|| {
                    call.arguments
                        .keywords
                        .iter()
                        .find(|k| k.arg.as_ref().is_some_and(|a| a.id.as_str() == "type"))
                        .map(|k| &k.value)
                });
                kind.and_then(|kind| self.semantic.resolve(kind)).as_deref()
                    == Some("socket.SOCK_DGRAM")
            }
            _ => false,
        };
        let Some(scope) = self.semantic.scopes.last_mut() else {
            return;
        };
        if datagram {
            scope.datagram_sockets.insert(local.to_string());
        } else if !scope.datagram_sockets.is_empty() {
            scope.datagram_sockets.remove(local);
        }
    }

    /// `os.register_at_fork(after_in_child=f)`, `multiprocessing.util.register_after_fork(obj,
    /// f)`: notes `f` as a function that runs in a child with a single thread.
    fn fork_hook(&mut self, call: &ast::ExprCall, callee: Option<&str>) {
        let hook = match callee {
            Some("os.register_at_fork") => call
                .arguments
                .keywords
                .iter()
                .find(|k| {
                    k.arg
                        .as_ref()
                        .is_some_and(|a| a.id.as_str() == "after_in_child")
                })
                .map(|k| &k.value),
            Some("multiprocessing.util.register_after_fork") => call.arguments.args.get(1),
            _ => None,
        };
        if let Some(hook) = hook.and_then(|hook| self.semantic.resolve(hook)) {
            self.model.fork_hooks.push(hook);
        }
    }

    /// The callable a thread entry runs (`functools.partial(self.update, tid)`: the function
    /// it wraps).
    pub(super) fn started_callable(
        &self,
        arguments: &'a ast::Arguments,
        entry: &ProcessTarget,
    ) -> Option<&'a Expr> {
        match given_callable(arguments, entry)? {
            Expr::Call(partial)
                if self.semantic.resolve(&partial.func).as_deref() == Some("functools.partial") =>
            {
                partial.arguments.args.first()
            }
            other => Some(other),
        }
    }

    /// Whether a call's first argument, or one given by keyword, is an in-memory buffer
    /// (`io.BytesIO`, `io.StringIO`).
    fn given_memory_buffer(&self, call: &ast::ExprCall) -> bool {
        let arguments = &call.arguments;
        arguments
            .args
            .first()
            .into_iter()
            .chain(arguments.keywords.iter().map(|k| &k.value))
            .any(|argument| {
                matches!(self.semantic.type_of(argument),
                    Some(Returns::One(ty)) if MEMORY_BUFFERS.contains(&ty.as_str()))
            })
    }

    pub(super) fn call(&mut self, call: &'a ast::ExprCall, awaited: bool) {
        let result = std::mem::take(&mut self.next_result);
        let callee = self.semantic.resolve(&call.func);
        let method = match call.func.as_ref() {
            Expr::Attribute(attr) => Some(attr.attr.id.to_string()),
            _ => None,
        };
        if self
            .tables
            .callback_runners
            .contains(callee.as_deref(), method.as_deref())
        {
            let arguments = &call.arguments;
            let lambdas = arguments
                .args
                .iter()
                .chain(arguments.keywords.iter().map(|k| &k.value));
            self.result_dropping_lambdas.extend(
                lambdas
                    .filter(|argument| argument.is_lambda_expr())
                    .map(ruff_text_size::Ranged::start),
            );
        }
        // `iscoroutinefunction(test_func)` (inspect's, asyncio's, asgiref's): see
        // `coroutine_checked`.
        if callee
            .as_deref()
            .is_some_and(|c| c.rsplit('.').next() == Some("iscoroutinefunction"))
            && let Some(Expr::Name(checked)) = call.arguments.args.first()
        {
            self.coroutine_checked.push(checked.id.to_string());
        }
        let offloads = self.tables.offloads(callee.as_deref(), method.as_deref());
        let schedules = self
            .tables
            .consumes_awaitables(callee.as_deref(), method.as_deref());
        let takes_own_item = self.takes_own_item(call);
        let non_blocking = self.non_blocking_attempts > 0
            || asks_not_to_block(call, method.as_deref())
            || self.on_non_blocking_socket(call);
        let inherited = || {
            let base = self.semantic.inherited_from_library(callee.as_deref()?)?;
            self.tables.blocking_api(Some(&base), method.as_deref())
        };
        let blocking = self
            .tables
            .blocking_api(callee.as_deref(), method.as_deref())
            .or_else(inherited)
            // Under `nest_asyncio`, a loop started inside a running one runs on it (IL107).
            .filter(|api| !(api.rule == Code::IL107 && self.nests_loops))
            .cloned()
            .map(Box::new);
        // A queue's `get()` of an item put before waits for no other thread (IL105 only: a
        // `session.get(url)` after `session.put(url)` still does network I/O; a receiver only
        // the project types is taken for a queue).
        let non_blocking = non_blocking
            || takes_own_item && blocking.as_ref().is_none_or(|api| api.rule == Code::IL105);
        let receiver = match call.func.as_ref() {
            Expr::Attribute(attr) => Some(attr.value.as_ref()),
            _ => None,
        };
        // `f.read()` on a file opened here: the `open()` is the blocking call reported, with
        // this use shown beside it.
        let opened_by = match receiver {
            Some(Expr::Name(n)) => self.semantic.opened_by(n.id.as_str()),
            _ => None,
        };
        // `zipfile.ZipFile(io.BytesIO(raw))`, `pandas.read_csv(io.StringIO(text))`: a file API
        // given a buffer in memory reads no disk.
        let blocking = blocking
            .filter(|api| api.rule != crate::codes::Code::IL102 || !self.given_memory_buffer(call));
        let blocking = match opened_by {
            Some(opening) => {
                if blocking.is_some() {
                    self.model.functions[self.current]
                        .file_uses
                        .push((opening, span(call)));
                }
                None
            }
            None => blocking,
        };
        if let (Some(receiver), Some(method)) = (receiver, method.as_deref())
            && CHANGES_IN_PLACE.contains(&method)
        {
            self.container_change(receiver, span(call));
            if let ("pop" | "setdefault", Some(key)) = (method, call.arguments.args.first()) {
                self.note_thread_keyed(receiver, key);
            }
        }
        if let Some(container) = call.arguments.args.first()
            && callee
                .as_ref()
                .is_some_and(|c| self.tables.iterating.contains(c))
        {
            self.iteration(container);
        }
        self.fork_hook(call, callee.as_deref());
        if callee.as_deref() == Some("getattr")
            && let [object, name, ..] = &call.arguments.args[..]
            && !name.is_string_literal_expr()
            && matches!(object, Expr::Name(n) if Some(n.id.as_str()) == self.semantic.self_name())
        {
            self.model.functions[self.current].dispatches_by_name = true;
        }
        let tables = self.tables;
        if let Some(api) = callee.as_deref()
            && let Some(target) = tables.process_targets.get(api)
        {
            self.process_handoffs(call, api, target);
        } else if let Some(class) = callee.as_deref()
            && self.is_process_subclass(class)
        {
            self.process_object_arguments(call, class);
        }
        // A project subclass of a threading server (`class Server(ThreadingMixIn, TCPServer)`).
        let server_base = callee
            .as_deref()
            .filter(|c| tables.thread_entry(Some(c), None).is_none())
            .and_then(|c| {
                self.semantic.library_base_among(c, |base| {
                    tables
                        .thread_entry(Some(base), None)
                        .is_some_and(|e| e.handler)
                })
            });
        let entry = tables
            .thread_entry(callee.as_deref(), method.as_deref())
            .or_else(|| tables.thread_entry(server_base.as_deref(), None));
        if let Some(entry) = entry {
            let arguments = &call.arguments;
            if entry.handler {
                // A request-handler class, not a callable.
                if let Some(handler) = given_callable(arguments, entry) {
                    self.request_handlers(handler);
                }
            } else {
                let callable = self.started_callable(arguments, entry);
                if let Some(callable @ (Expr::Name(_) | Expr::Attribute(_) | Expr::Lambda(_))) =
                    callable
                {
                    let entries = &self.model.functions[self.current].thread_entries;
                    if let Expr::Lambda(lambda) = callable {
                        // Its number is known once the arguments are walked (see `lambda`).
                        self.started_lambda = Some((lambda.range.start(), entries.len()));
                    }
                    // `loop.run_in_executor(executor, f)`: the executor decides where `f` runs.
                    let executor = match method.as_deref() {
                        Some("run_in_executor") => arguments
                            .args
                            .first()
                            .and_then(|executor| self.semantic.type_of(executor))
                            .and_then(|ty| match ty {
                                Returns::One(ty) => Some(ty),
                                Returns::Tuple(_) => None,
                            }),
                        _ => None,
                    };
                    let repeated = entry.pool || self.repeat_depth > 0;
                    let shared_arguments = self.shared_arguments(arguments, callable);
                    let target = self.semantic.resolve(callable);
                    if let Some(target) = &target
                        && given_callable(arguments, entry)
                            .is_some_and(|c| std::ptr::eq(c, callable))
                    {
                        self.note_started_arguments(arguments, callable, target);
                    }
                    // `self._pool.submit(self._work)`: what the executor's workers run, which
                    // its `shutdown()` waits for.
                    if entry.pool
                        && let (Some(pool), Some(target)) = (receiver, &target)
                    {
                        self.note_thread_runs(pool, target);
                    }
                    // `def start_daemon(callback): Thread(target=callback)`: what its callers
                    // pass there runs on the thread.
                    let parameter = match callable {
                        Expr::Name(name) if target.is_none() => self.parameter_slot(&name.id),
                        _ => None,
                    };
                    let started = ThreadEntry {
                        span: span(callable),
                        target,
                        closure: 0,
                        function: None,
                        repeated,
                        if_thread_subclass: false,
                        executor,
                        fresh_object: false,
                        shared_arguments,
                        parameter,
                    };
                    self.model.functions[self.current]
                        .thread_entries
                        .push(started);
                }
            }
        }
        // `Worker(...).start()`: runs `Worker.run` on a thread if `Worker` is a `Thread`.
        if method.as_deref() == Some("start")
            && let Some(receiver) = receiver
            && let Some(Returns::One(class)) = self.semantic.type_of(receiver)
            && tables.lock(&class).is_none()
        {
            let started = ThreadEntry {
                repeated: self.repeat_depth > 0,
                if_thread_subclass: true,
                ..ThreadEntry::of_function(span(call), concat(&[&class, ".run"]))
            };
            self.model.functions[self.current]
                .thread_entries
                .push(started);
        }
        let on = match receiver {
            // `proc.wait()` in `def helper(proc)`: a method of whatever object the caller gives.
            Some(Expr::Name(name)) => self.parameter_receiver(name.id.as_str()),
            Some(receiver) => self.semantic.receiver(receiver),
            None => Receiver::Other,
        };
        if let (Some(receiver), Some(method)) = (receiver, method.as_deref()) {
            self.condition_use(call, receiver, method);
        }
        let object = match receiver {
            Some(receiver) if on != Receiver::Own => self
                .held_objects
                .of_receiver(self.current, || super::syntax::dotted(receiver)),
            _ => 0,
        };
        let index = self.model.functions[self.current].calls.len();
        let positional_arguments = self.note_call_inputs(index, call, callee.as_deref());
        // `message.channel.send(..)` on a parameter of unknown type: its shape as written.
        let shape = match (receiver, &callee, method.as_deref()) {
            (Some(receiver), None, Some(method)) => self
                .receiver_shape(receiver, MAX_SHAPE_DEPTH)
                .map(|receiver| parts_hash(&[&receiver, ".", method])),
            _ => None,
        };
        // Only resolved by the project, and never shown: not the callee as written. A call on
        // a parameter also gives the parameter's name (see `SymbolIndex::resolve_passed`).
        let alternatives = match callee {
            // A method of a union (`lnworker: Union[LNGossip, LNWallet]`): of any member.
            Some(_) => match (receiver, method.as_deref()) {
                (Some(receiver), Some(method)) if self.semantic.has_unions.get() => {
                    match self.semantic.type_of(receiver) {
                        Some(Returns::One(ty)) if ty.contains(super::semantic::UNION) => {
                            super::semantic::union_members(&ty)
                                .skip(1)
                                .map(|member| concat(&[member, ".", method]))
                                .collect()
                        }
                        _ => ThinVec::new(),
                    }
                }
                _ => ThinVec::new(),
            },
            None => match self.parameter_callee(&call.func) {
                Some(_) if self.is_coroutine_checked(&call.func) => ThinVec::new(),
                Some((name, parameter)) => thin_vec::thin_vec![name, parameter],
                None => self.registry_callee(&call.func).into_iter().collect(),
            },
        };
        self.registered_by_call(call);
        let object_arguments = self.object_arguments(call);
        self.model.functions[self.current].calls.push(Call {
            callee,
            method,
            span: span(call),
            context: self.context,
            non_blocking,
            alternatives,
            receiver: on,
            scheduled: false,
            closure: self.closure,
            object,
            awaited,
            result,
            blocking,
            positional_arguments,
            object_arguments,
        });
        self.note_thread_join(call, index);
        if let Some(receiver) = receiver
            && on != Receiver::Own
        {
            self.note_attribute_receiver(index, receiver);
            self.note_global_receiver(index, receiver);
        }
        if let Some(shape) = shape {
            self.model.functions[self.current]
                .unknown_calls
                .push((index as u32, shape));
        }
        // `x.insert(0, y)` reads an attribute of `x` (see `FileModel::reads_name`); `x.close()`
        // of a coroutine's own method uses it (see `visit_expr`).
        self.visit_expr(&call.func);
        // `bool(x and fetch())`: the argument is only tested for truth.
        if let ([argument], true, Some("bool")) = (
            &*call.arguments.args,
            call.arguments.keywords.is_empty(),
            self.model.functions[self.current]
                .calls
                .get(index)
                .and_then(|c| c.callee.as_deref()),
        ) {
            self.visit_condition(argument);
            return;
        }
        // `isinstance(r, Err)`, `type(r)`: only the object's type is looked at, as reading one
        // of its attributes would (a coroutine is never an instance of its result's type).
        let callee = self.model.functions[self.current].calls[index]
            .callee
            .as_deref();
        let consumer: Option<Box<str>> = callee
            .filter(|c| self.tables.consumers.contains(*c))
            .map(Box::from);
        let file_method = match callee {
            Some(c) if self.tables.file_writers.contains(c) => Some("write"),
            Some(c) if self.tables.file_readers.contains(c) => Some("read"),
            _ => None,
        };
        let file_user = file_method.and(callee).map(Box::<str>::from);
        let casts = matches!(callee, Some("typing.cast" | "typing_extensions.cast"));
        let mut skip = None;
        if matches!(callee, Some("isinstance" | "type"))
            && let Some(Expr::Name(name)) = call.arguments.args.first()
        {
            self.read_as_result(name);
            skip = call.arguments.args.first();
        }
        // `typing.cast(dict, raw)`: the value is declared to be of a type a coroutine never is
        // (not `Any`, `Awaitable[..]`, a string), as a type check would look at it.
        if casts
            && let [ty, value @ Expr::Name(name)] = &*call.arguments.args
            && self.is_plain_value_type(ty)
        {
            self.read_as_result(name);
            skip = Some(value);
        }
        let arguments = call
            .arguments
            .args
            .iter()
            .chain(call.arguments.keywords.iter().map(|k| &k.value))
            .filter(|argument| skip.is_none_or(|skipped| !std::ptr::eq(*argument, skipped)));
        // `f(**details)`: unpacking needs a mapping, as a call's result would be used (a
        // coroutine or task raises `TypeError` there). (`gather(*tasks)` is how tasks are
        // awaited: a `*` unpacking still counts as a use.)
        let unpacked: Vec<&Expr> = call
            .arguments
            .keywords
            .iter()
            .filter(|k| k.arg.is_none())
            .map(|k| &k.value)
            .collect();
        for argument in arguments {
            match argument {
                Expr::Name(name) if unpacked.iter().any(|u| std::ptr::eq(*u, argument)) => {
                    self.read_as_result(name);
                }
                Expr::Lambda(lambda) if offloads => {
                    let saved = std::mem::replace(&mut self.context, Context::Offloaded);
                    self.lambda(lambda);
                    self.context = saved;
                }
                Expr::Call(inner) if schedules => {
                    let index = self.model.functions[self.current].calls.len();
                    self.call(inner, true);
                    self.model.functions[self.current].calls[index].scheduled = true;
                }
                // `json.dumps(fetch())`: the library uses the result as a value.
                Expr::Call(_) if consumer.is_some() => {
                    self.next_result = ResultUse::Consumed(consumer.clone().unwrap_or_default());
                    self.visit_expr(argument);
                }
                _ => self.visit_expr(argument),
            }
        }
        if let (Some(method), Some(user)) = (file_method, file_user) {
            self.file_method_calls(call, method, &user);
        }
    }

    /// Whether a type expression names a type a coroutine is never an instance of: a class by
    /// name, or a generic one (`dict[str, int]`), not `Any`, an awaitable or a forward
    /// reference.
    fn is_plain_value_type(&self, ty: &Expr) -> bool {
        let named = match ty {
            Expr::Subscript(generic) => &*generic.value,
            named => named,
        };
        if !matches!(named, Expr::Name(_) | Expr::Attribute(_)) {
            return false;
        }
        let Some(name) = self.semantic.resolve(named) else {
            return false;
        };
        let last = name.rsplit('.').next().unwrap_or(&name);
        !matches!(
            last,
            "Any" | "Awaitable" | "Coroutine" | "Future" | "Task" | "TypeVar" | "object"
        )
    }

    /// `json.dump(data, f)`: the library calls `f.write(..)` (`method`) of the file it is
    /// given and uses the result as a plain value; recorded as such a call at the argument, so
    /// that an async file's coroutine `write` is seen un-awaited (IL501). The file is the
    /// second argument of a `dump(obj, file)`, else the first, or given by keyword.
    fn file_method_calls(&mut self, call: &ast::ExprCall, method: &str, user: &str) {
        let position = usize::from(user.ends_with("dump"));
        let by_keyword = call.arguments.keywords.iter().find(|k| {
            k.arg.as_ref().is_some_and(|a| {
                matches!(a.id.as_str(), "fp" | "file" | "stream" | "f" | "csvfile")
            })
        });
        let file = match by_keyword {
            Some(keyword) => Some(&keyword.value),
            None => call.arguments.args.get(position),
        };
        if let Some(argument) = file {
            let Some(Returns::One(ty)) = self.semantic.type_of(argument) else {
                return;
            };
            let callee = concat(&[&ty, ".", method]);
            let mut called = self.implicit_call(callee, method, span(argument));
            called.result = ResultUse::CalledBy(user.into());
            self.model.functions[self.current].calls.push(called);
        }
    }
}

/// `get(block=False)`, `get(False)`, `acquire(blocking=False)`, `put(x, False)`, `timeout=0`,
/// a zero timeout in first place (`thread.join(0)`, `event.wait(0)`, `future.result(0)`), and
/// `WNOHANG` among the options (`os.waitpid(pid, os.WNOHANG)`).
pub(super) fn asks_not_to_block(call: &ast::ExprCall, method: Option<&str>) -> bool {
    let keyword =
        call.arguments
            .keywords
            .iter()
            .any(|k| match k.arg.as_ref().map(|a| a.id.as_str()) {
                Some("block" | "blocking") => is_false_literal(&k.value),
                // `executor.shutdown(wait=False)`
                Some("wait") if method == Some("shutdown") => is_false_literal(&k.value),
                Some("timeout") => is_zero_literal(&k.value),
                // `tarfile.open(fileobj=buffer)`: reads an object opened elsewhere.
                Some("fileobj") => true,
                _ => false,
            });
    // `os.waitpid(pid, os.WNOHANG)`, `os.waitid(.., WEXITED | WNOHANG)`: reaps or returns.
    if call.arguments.args.iter().any(|a| mentions(a, "WNOHANG"))
        || call
            .arguments
            .keywords
            .iter()
            .any(|k| mentions(&k.value, "WNOHANG"))
    {
        return true;
    }
    let resolves_numeric_only = |e: &Expr| mentions(e, "NUMERIC");
    if call.arguments.keywords.iter().any(|k| {
        k.arg.as_ref().is_some_and(|a| a.id.as_str() == "flags") && resolves_numeric_only(&k.value)
    }) || call
        .arguments
        .args
        .get(5)
        .is_some_and(resolves_numeric_only)
    {
        // `getaddrinfo(..., flags=AI_NUMERICHOST)` never asks DNS.
        return true;
    }
    let zero_timeout_first = matches!(method, Some("join" | "wait" | "result" | "exception"))
        && call.arguments.args.first().is_some_and(is_zero_literal);
    if zero_timeout_first {
        return true;
    }
    let position = match method {
        Some("get" | "acquire" | "wait" | "shutdown") => 0,
        Some("put") => 1,
        _ => return keyword,
    };
    keyword
        || call
            .arguments
            .args
            .get(position)
            .is_some_and(is_false_literal)
}

/// Whether an expression names something containing `word` (`socket.AI_NUMERICHOST | X`).
pub(super) fn mentions(expr: &Expr, word: &str) -> bool {
    match expr {
        Expr::Name(name) => name.id.as_str().contains(word),
        Expr::Attribute(attr) => {
            attr.attr.id.as_str().contains(word) || mentions(&attr.value, word)
        }
        Expr::BinOp(binop) => mentions(&binop.left, word) || mentions(&binop.right, word),
        _ => false,
    }
}

/// What [`Lowerer::member_call`] looks for in a class.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Member {
    /// A `@property` getter, read as an attribute.
    Property,
    /// A method called by syntax (`__getitem__` for `x[k]`).
    Method,
}

/// The argument a thread entry takes its callable as: by keyword or position.
fn given_callable<'e>(arguments: &'e ast::Arguments, entry: &ProcessTarget) -> Option<&'e Expr> {
    arguments
        .keywords
        .iter()
        .find(|k| {
            k.arg
                .as_ref()
                .is_some_and(|a| a.id.as_str() == entry.callable)
        })
        .map(|k| &k.value)
        .or_else(|| arguments.args.get(entry.position))
}

impl Lowerer<'_> {
    /// Whose object a plain name is, seen from the current function: its own (`self`), one of
    /// its parameters (counting `self`), or another.
    fn parameter_receiver(&self, name: &str) -> Receiver {
        if self.semantic.self_name() == Some(name) {
            return Receiver::Own;
        }
        match self.parameter_position(name) {
            Some((position, _)) => {
                u8::try_from(position).map_or(Receiver::Other, Receiver::Parameter)
            }
            None => Receiver::Other,
        }
    }

    /// The arguments of a call that are the caller's own object or one of its parameters,
    /// by the callee's parameter they are given as, counting `self` (a function's first
    /// parameter is 1, as in [`Self::parameter_slot`]: `helper(self)`, `self.flush(region)`,
    /// `Proc(self)`; see [`Call::object_arguments`]). A method called through its class
    /// (`Base.close(self)`) takes its object as parameter 0.
    fn object_arguments(&self, call: &ast::ExprCall) -> ThinVec<ObjectArgument> {
        let offset = match call.func.as_ref() {
            Expr::Attribute(attribute) if names_class(&attribute.value) => 0,
            _ => 1,
        };
        call.arguments
            .args
            .iter()
            .enumerate()
            .filter_map(|(index, argument)| {
                let Expr::Name(name) = argument else {
                    return None;
                };
                let receiver = self.parameter_receiver(name.id.as_str());
                let position = u8::try_from(index + offset).ok()?;
                (receiver != Receiver::Other).then_some(ObjectArgument {
                    position,
                    receiver,
                    object: 0,
                })
            })
            .collect()
    }
}

/// Whether an expression names a class by the convention of its last name (`Proc`,
/// `base.Worker`).
fn names_class(expr: &Expr) -> bool {
    let last = match expr {
        Expr::Name(name) => name.id.as_str(),
        Expr::Attribute(attribute) => attribute.attr.id.as_str(),
        _ => return false,
    };
    last.starts_with(|c: char| c.is_ascii_uppercase())
}
