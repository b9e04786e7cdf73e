-- A real-editor test of `interlock server`: headless Neovim (0.11 or later) opens files
-- with concurrency bugs, starts the server with `vim.lsp.start` and checks what a user sees
-- (diagnostics, hover, the suppression quick fix) and that edits sent as incremental
-- `didChange` notifications update them.
--
--   INTERLOCK_BIN=path/to/interlock WORKSPACE=path/to/project \
--     nvim --headless --clean -l tests/editors/neovim/check_diagnostics.lua
--
-- WORKSPACE must hold `app/handler.py` and `crate/Cargo.toml` + `crate/src/lib.rs` as written
-- by `tests/lsp_neovim.rs` (the expectations below follow those files). Prints `ok: ...` for
-- each check passed and exits 0, or prints `FAIL: ...` and exits 1.
--
-- Optional: INTERLOCK_DIAGNOSTICS=pull|push (default push, see MODE), INTERLOCK_NVIM_WAIT_MS
-- (how long to wait for each update, default 20000), INTERLOCK_NVIM_VERBOSE=1 (print the
-- server's log messages on success too).

local TIMEOUT_MS = tonumber(vim.env.INTERLOCK_NVIM_WAIT_MS or '') or 20000
-- `push` (Neovim 0.12 as shipped: it declares `textDocument.diagnostic` but not
-- `workspace.diagnostics.refreshSupport`, so the server pushes `textDocument/publishDiagnostics`
-- lest other files keep stale cross-file findings) or `pull` (the refresh capability is added,
-- so the server advertises `diagnosticProvider` and answers `textDocument/diagnostic`).
local MODE = vim.env.INTERLOCK_DIAGNOSTICS or 'push'

local bin = vim.env.INTERLOCK_BIN
local workspace = vim.env.WORKSPACE

-- Everything the server said through `window/showMessage` and `window/logMessage`.
local messages = {}
local server_exit = nil

local function out(line)
  io.stdout:write(line, '\n')
  io.stdout:flush()
end

local function fail(message)
  out('FAIL: ' .. message)
  for _, m in ipairs(messages) do
    out('  server said: ' .. m)
  end
  io.stdout:flush()
  os.exit(1)
end

local function ok(message)
  out('ok: ' .. message)
end

if not bin or bin == '' or not workspace or workspace == '' then
  fail('set INTERLOCK_BIN (the interlock binary) and WORKSPACE (the project directory)')
end
if vim.fn.has('nvim-0.11') ~= 1 then
  fail('Neovim 0.11 or later is needed, this is ' .. tostring(vim.version()))
end
if MODE ~= 'pull' and MODE ~= 'push' then
  fail('INTERLOCK_DIAGNOSTICS must be `pull` or `push`, not ' .. MODE)
end
if vim.fn.executable(bin) ~= 1 then
  fail('INTERLOCK_BIN is not executable: ' .. bin)
end
workspace = vim.fs.normalize(vim.fn.fnamemodify(workspace, ':p'))

--- Shows a diagnostic the way a failure message needs it.
local function show(d)
  return string.format(
    '%s %d:%d-%d:%d [%s] %s',
    tostring(d.code),
    d.lnum,
    d.col,
    d.end_lnum or -1,
    d.end_col or -1,
    tostring(d.source),
    d.message
  )
end

local function show_all(buf)
  local lines = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    lines[#lines + 1] = '    ' .. show(d)
  end
  if #lines == 0 then
    return '  (no diagnostics)'
  end
  return '\n' .. table.concat(lines, '\n')
end

local function buffer_text(buf)
  return table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
end

--- interlock's diagnostics with `code` in `buf`.
local function with_code(buf, code)
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    if d.code == code then
      found[#found + 1] = d
    end
  end
  return found
end

--- Waits until `buf` has a diagnostic `code` on 0-based line `lnum` and returns it.
local function wait_for(buf, code, lnum, why)
  local found = nil
  vim.wait(TIMEOUT_MS, function()
    for _, d in ipairs(with_code(buf, code)) do
      if d.lnum == lnum then
        found = d
        return true
      end
    end
    return false
  end, 50)
  if not found then
    fail(
      string.format(
        '%s: no %s on line %d after %d ms; diagnostics:%s\nbuffer:\n%s',
        why,
        code,
        lnum + 1,
        TIMEOUT_MS,
        show_all(buf),
        buffer_text(buf)
      )
    )
  end
  return found
end

--- Waits until `buf` has no diagnostic `code` left.
local function wait_gone(buf, code, why)
  local gone = vim.wait(TIMEOUT_MS, function()
    return #with_code(buf, code) == 0
  end, 50)
  if not gone then
    fail(
      string.format(
        '%s: %s still reported after %d ms; diagnostics:%s\nbuffer:\n%s',
        why,
        code,
        TIMEOUT_MS,
        show_all(buf),
        buffer_text(buf)
      )
    )
  end
end

local function expect(condition, message)
  if not condition then
    fail(message)
  end
end

--- The one interlock client attached to `buf`.
local function client_of(buf)
  local clients = vim.lsp.get_clients({ bufnr = buf, name = 'interlock' })
  expect(#clients == 1, 'expected one interlock client on the buffer, got ' .. #clients)
  return clients[1]
end

--- Sends `method` to the server for `buf` and returns its result (failing on errors).
local function request(buf, method, params)
  local responses, err = vim.lsp.buf_request_sync(buf, method, params, TIMEOUT_MS)
  if not responses then
    fail(method .. ': no response: ' .. tostring(err))
  end
  local client = client_of(buf)
  local response = responses[client.id]
  expect(response ~= nil, method .. ': the interlock client did not answer')
  if response.err then
    fail(method .. ': error ' .. vim.inspect(response.err))
  end
  return response.result
end

--- Declares that the server may ask for a re-pull, in pull mode.
local function before_init(params)
  if MODE == 'pull' then
    params.capabilities.workspace = params.capabilities.workspace or {}
    params.capabilities.workspace.diagnostics = { refreshSupport = true }
  end
end

--- Opens `path` (relative to the workspace) in the current window and attaches the server
--- (`vim.lsp.start` reuses the running one: same name and root).
local function open(path, filetype)
  vim.cmd.edit(vim.fn.fnameescape(workspace .. '/' .. path))
  local buf = vim.api.nvim_get_current_buf()
  if vim.bo[buf].filetype == '' then
    vim.bo[buf].filetype = filetype
  end
  local client_id = vim.lsp.start({
    name = 'interlock',
    cmd = { bin, 'server' },
    root_dir = workspace,
    before_init = before_init,
    handlers = {
      ['window/showMessage'] = function(_, result)
        messages[#messages + 1] = 'showMessage: ' .. tostring(result and result.message)
      end,
      ['window/logMessage'] = function(_, result)
        messages[#messages + 1] = 'logMessage: ' .. tostring(result and result.message)
      end,
    },
    on_exit = function(code, signal)
      server_exit = { code = code, signal = signal }
    end,
  }, { bufnr = buf })
  expect(client_id ~= nil, 'vim.lsp.start did not start the interlock server (' .. bin .. ')')
  local attached = vim.wait(TIMEOUT_MS, function()
    local client = vim.lsp.get_client_by_id(client_id)
    return client ~= nil and client.initialized and vim.lsp.buf_is_attached(buf, client_id)
  end, 50)
  expect(attached, 'the interlock server did not initialize and attach to ' .. path)
  return buf, vim.lsp.get_client_by_id(client_id)
end

--- The `textDocument/hover` text at a diagnostic's start.
local function hover_text(buf, d)
  local result = request(buf, 'textDocument/hover', {
    textDocument = { uri = vim.uri_from_bufnr(buf) },
    -- Columns are bytes here, and so are the server's (it was offered UTF-8 first).
    position = { line = d.lnum, character = d.col },
  })
  expect(result ~= nil and result ~= vim.NIL, 'hover: no hover on ' .. show(d))
  local contents = result.contents
  if type(contents) == 'table' and contents.value then
    return contents.value, contents.kind
  end
  return vim.inspect(contents), nil
end

-- Python ----------------------------------------------------------------------------------

local py, client = open('app/handler.py', 'python')
ok('server started: ' .. tostring(client.server_info and client.server_info.name))
expect(client.offset_encoding == 'utf-8', 'expected UTF-8 positions, got ' .. client.offset_encoding)
local pulls = client.server_capabilities.diagnosticProvider ~= nil
expect(
  pulls == (MODE == 'pull'),
  'diagnosticProvider is ' .. (pulls and 'advertised' or 'missing') .. ' in ' .. MODE .. ' mode'
)
ok('diagnostics are ' .. (pulls and 'pulled (textDocument/diagnostic)' or 'pushed (publishDiagnostics)'))

-- Line 3 is `    _ = "héllo"; time.sleep(1)`: `é` takes two bytes, so the column checks the
-- position encoding too (byte 18, character 17).
local d = wait_for(py, 'IL101', 2, 'opening app/handler.py')
expect(d.source == 'interlock', 'IL101: source is ' .. tostring(d.source) .. ', not interlock')
expect(d.col == 18, 'IL101: expected byte column 18 (after `_ = "héllo"; `), got ' .. show(d))
expect(d.end_lnum == 2 and d.end_col == 31, 'IL101: expected to end at 2:31, got ' .. show(d))
expect(d.severity == vim.diagnostic.severity.WARN, 'IL101: not a warning: ' .. show(d))
expect(d.message:find('time.sleep()', 1, true) ~= nil, 'IL101: message does not name time.sleep(): ' .. d.message)
expect(d.message:find('handler', 1, true) ~= nil, 'IL101: message does not name handler: ' .. d.message)
expect(#vim.diagnostic.get(py) == 1, 'expected only IL101 in app/handler.py:' .. show_all(py))
ok('IL101 at line 3, byte column 18: ' .. d.message)

local text, kind = hover_text(py, d)
expect(kind == 'markdown', 'hover: expected markdown, got ' .. tostring(kind))
expect(text:find('IL101', 1, true) ~= nil, 'hover does not mention IL101:\n' .. text)
ok('hover shows the rule doc (' .. #text .. ' characters)')

-- The quick fix: suppress the finding with a comment, then undo it.
local actions = request(py, 'textDocument/codeAction', {
  textDocument = { uri = vim.uri_from_bufnr(py) },
  range = {
    start = { line = 2, character = 0 },
    ['end'] = { line = 2, character = 0 },
  },
  context = { diagnostics = { d.user_data and d.user_data.lsp or {} }, only = { 'quickfix' } },
})
local suppress = nil
for _, action in ipairs(actions or {}) do
  if action.title == 'Suppress IL101 on this line' then
    suppress = action
  end
end
expect(suppress ~= nil, 'code action "Suppress IL101 on this line" not offered: ' .. vim.inspect(actions))
expect(suppress.edit ~= nil, 'the suppression carries no edit: ' .. vim.inspect(suppress))
vim.lsp.util.apply_workspace_edit(suppress.edit, client.offset_encoding)
local suppressed = vim.api.nvim_buf_get_lines(py, 2, 3, false)[1]
expect(suppressed:find('IL101', 1, true) ~= nil, 'the suppression did not edit line 3: ' .. suppressed)
wait_gone(py, 'IL101', 'after applying "Suppress IL101 on this line"')
ok('the suppression quick fix hides IL101: ' .. vim.trim(suppressed))
vim.cmd('silent undo')
wait_for(py, 'IL101', 2, 'after undoing the suppression')
ok('undo brings IL101 back')

-- Fix it with line edits (`import asyncio` on top, `await asyncio.sleep(1)` for the call).
vim.api.nvim_buf_set_lines(py, 0, 0, false, { 'import asyncio', '' })
wait_for(py, 'IL101', 4, 'after adding two lines on top')
vim.api.nvim_buf_set_lines(py, 4, 5, false, { '    await asyncio.sleep(1)' })
wait_gone(py, 'IL101', 'after replacing the call with `await asyncio.sleep(1)`')
expect(#vim.diagnostic.get(py) == 0, 'the fixed file still has diagnostics:' .. show_all(py))
ok('fixed with incremental line edits: no diagnostics')

-- Break it again with a change inside a line: `await asyncio.sleep` -> `time.sleep`.
vim.api.nvim_buf_set_text(py, 4, 4, 4, #'    await asyncio.sleep', { 'time.sleep' })
d = wait_for(py, 'IL101', 4, 'after the in-line edit back to `time.sleep(1)`')
expect(d.col == 4, 'IL101 after the in-line edit: expected column 4, got ' .. show(d))
-- And an edit across a line end that adds a line: a docstring before `import time`.
vim.api.nvim_buf_set_text(
  py,
  2,
  #'async def handler():',
  3,
  #'    import',
  { '', '    """Doc."""', '    import' }
)
d = wait_for(py, 'IL101', 5, 'after an edit across lines')
expect(d.col == 4, 'IL101 after an edit across lines: expected column 4, got ' .. show(d))
local expected =
  'import asyncio\n\nasync def handler():\n    """Doc."""\n    import time\n    time.sleep(1)'
expect(buffer_text(py) == expected, 'unexpected buffer:\n' .. buffer_text(py))
ok('in-line and multi-line incremental edits keep the server in step')

-- Rust ------------------------------------------------------------------------------------

local rs, rs_client = open('crate/src/lib.rs', 'rust')
expect(rs_client.id == client.id, 'the Rust file started a second server')
d = wait_for(rs, 'IL202', 2, 'opening crate/src/lib.rs')
expect(d.source == 'interlock', 'IL202: source is ' .. tostring(d.source))
expect(d.col == 13, 'IL202: expected column 13 (`m.lock()`), got ' .. show(d))
expect(d.message:find('double lock', 1, true) ~= nil, 'IL202: unexpected message: ' .. d.message)
local related = d.user_data and d.user_data.lsp and d.user_data.lsp.relatedInformation or {}
local first_lock = nil
for _, info in ipairs(related) do
  if info.location.range.start.line == 1 and vim.uri_to_fname(info.location.uri) == vim.api.nvim_buf_get_name(rs) then
    first_lock = info
  end
end
expect(first_lock ~= nil, 'IL202: no relatedInformation on the first lock (line 2): ' .. vim.inspect(related))
ok('IL202 at line 3, related: ' .. first_lock.message)
text = hover_text(rs, d)
expect(text:find('IL202', 1, true) ~= nil, 'hover on IL202 does not mention IL202:\n' .. text)
ok('hover on IL202')

vim.api.nvim_buf_set_lines(rs, 2, 2, false, { '    drop(_a);' })
wait_gone(rs, 'IL202', 'after adding `drop(_a);`')
ok('`drop(_a);` fixes IL202')

-- Shut down: the server must exit 0 (`shutdown` then `exit`).
client:stop()
local stopped = vim.wait(TIMEOUT_MS, function()
  return server_exit ~= nil
end, 50)
expect(stopped, 'the server did not exit after shutdown')
expect(
  server_exit.code == 0 and server_exit.signal == 0,
  string.format('the server exited with code %s, signal %s', server_exit.code, server_exit.signal)
)
ok('the server shut down cleanly')

for _, m in ipairs(messages) do
  if m:find('showMessage', 1, true) or m:find('ignored', 1, true) then
    fail('the server complained: ' .. m)
  end
end

if vim.env.INTERLOCK_NVIM_VERBOSE then
  for _, m in ipairs(messages) do
    out('  server said: ' .. m)
  end
end
out('neovim (' .. MODE .. ' diagnostics): all checks passed')
os.exit(0)
