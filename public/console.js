// The console page's glue to two browser libraries Limen serves itself (scripts/build.sh copies
// them from vendor/node_modules into the site): noVNC's RFB client for the screen and xterm.js
// for the serial port. Only the console page loads this file (as a module script it adds
// itself), and this file loads the libraries only when a console is opened, so no other page
// pays for them. The page's WASM does everything else: the ticket, the state, the words (in the
// page's language: nothing this file reports is shown as it is, so it holds no sentences).
//
// Each console reports to the WASM through `emit(kind, code, text)`:
//   'open'      the server accepted the WebSocket (it may still be starting the VM)
//   'connected' the VNC handshake finished (screen only)
//   'failure'   the server's one JSON text message before it closes ({"error", "code"})
//   'vnc-error' the VNC session failed on this side; text says how, and the page says it in words:
//                 'handshake'         the VNC handshake did not finish
//                 'session'           the screen data could not be read
//                 'refused:<reason>'  the VNC server refused (its own reason, maybe empty)
//                 'password'          the VNC server asks for a password
//   'library'   a library could not be loaded (text: the browser's error, not shown)
//   'closed'    the WebSocket closed (code: its close code, text: its reason)
// A console closed by the page itself (reconnect, leaving the page) reports nothing more.
// Each viewer's `ready()` loads its library first: a promise, resolved once it can connect.

const NOVNC = '/novnc/core/rfb.js';
const XTERM = '/xterm/xterm.mjs';
const XTERM_FIT = '/xterm/addon-fit.mjs';
const XTERM_CSS = '/xterm/xterm.css';

// X keysyms (noVNC's core/input/keysym.js has them all; these few are all the toolbar needs).
const XK_SHIFT_L = 0xffe1;
const XK_CONTROL_L = 0xffe3;
const XK_ALT_L = 0xffe9;
const XK_RETURN = 0xff0d;
const XK_TAB = 0xff09;
const XK_F1 = 0xffbe;

// What the US layout types with Shift held: QEMU's VNC server turns a keysym into a key of its
// keymap (en-us unless the domain says otherwise) and does not press Shift by itself.
const SHIFTED = /[A-Z~!@#$%^&*()_+{}|:"<>?]/;
// QEMU's PS/2 keyboard queue holds a few key events; a burst overflows it and keys are lost.
// Pasted text is typed at about a hundred characters a second.
const TYPING_PAUSE_MS = 10;

function socketUrl(path) {
  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${window.location.host}${path}`;
}

// One WebSocket to a console endpoint. Text messages are the server's failure report and go to
// `emit`; binary ones to `handlers.binary`. After `drop()` (the page closed it) nothing more is
// emitted, but the handlers still see the close.
function openSocket(path, emit, handlers) {
  const socket = new WebSocket(socketUrl(path), ['binary']);
  socket.binaryType = 'arraybuffer';
  let live = true;
  socket.addEventListener('open', () => {
    if (live) emit('open', 0, socket.protocol);
    handlers.open?.();
  });
  socket.addEventListener('message', (event) => {
    if (typeof event.data === 'string') {
      if (live) emit('failure', 0, event.data);
    } else {
      handlers.binary?.(event);
    }
  });
  socket.addEventListener('error', (event) => handlers.error?.(event));
  socket.addEventListener('close', (event) => {
    handlers.close?.(event);
    if (live) emit('closed', event.code, event.reason);
    live = false;
  });
  return {
    socket,
    drop() {
      live = false;
      if (socket.readyState === WebSocket.CONNECTING || socket.readyState === WebSocket.OPEN) {
        socket.close(1000);
      }
    },
  };
}

// The raw channel noVNC's RFB reads (it accepts any object with a WebSocket's members): the
// socket's binary messages only, so the server's text message never reaches the VNC decoder.
class RfbChannel {
  constructor(socket) {
    this.socket = socket;
    this.onopen = null;
    this.onmessage = null;
    this.onclose = null;
    this.onerror = null;
  }
  get binaryType() { return this.socket.binaryType; }
  set binaryType(type) { this.socket.binaryType = type; }
  get protocol() { return this.socket.protocol; }
  get readyState() { return this.socket.readyState; }
  send(data) { this.socket.send(data); }
  close() {
    if (this.socket.readyState === WebSocket.CONNECTING || this.socket.readyState === WebSocket.OPEN) {
      this.socket.close(1000);
    }
  }
}

// One VNC session: a WebSocket and the RFB object reading it (noVNC's RFB objects are single
// use). Whoever closes it (the server, or the page with `end()`), RFB is told first, so it ends
// as a clean disconnect instead of logging a failure of its own; the words for a close come from
// the server and `emit('closed')`.
function vncSession(RFB, target, path, emit) {
  let ending = false;
  let reporting = true;
  let channel = null;
  let rfb = null;
  const finish = () => {
    if (ending || !rfb) return;
    ending = true;
    try { rfb.disconnect(); } catch { /* already disconnected */ }
  };
  const connection = openSocket(path, (...event) => reporting && emit(...event), {
    open: () => channel.onopen?.(),
    binary: (event) => channel.onmessage?.(event),
    error: (event) => channel.onerror?.(event),
    close: (event) => {
      finish();
      channel.onclose?.(event);
    },
  });
  channel = new RfbChannel(connection.socket);
  rfb = new RFB(target, channel, { shared: true });
  let connected = false;
  rfb.addEventListener('connect', () => {
    connected = true;
    if (reporting) emit('connected', 0, '');
  });
  rfb.addEventListener('disconnect', (event) => {
    // A disconnect nobody asked for: the VNC session failed on this side.
    if (reporting && !ending && !event.detail.clean) {
      emit('vnc-error', 0, connected ? 'session' : 'handshake');
    }
    ending = true;
  });
  rfb.addEventListener('securityfailure', (event) => {
    if (reporting) emit('vnc-error', 0, `refused:${event.detail.reason ?? ''}`);
  });
  rfb.addEventListener('credentialsrequired', () => {
    if (reporting) emit('vnc-error', 0, 'password');
    finish();
  });
  return {
    rfb,
    // Closed by the page: nothing more is reported.
    end() {
      reporting = false;
      finish();
      connection.drop();
    },
  };
}

let rfbLoaded = null;
function loadRfb() {
  if (!rfbLoaded) {
    rfbLoaded = import(NOVNC);
    rfbLoaded.catch(() => { rfbLoaded = null; });
  }
  return rfbLoaded;
}

const SCALING = {
  fit: { scaleViewport: true, resizeSession: false },
  actual: { scaleViewport: false, resizeSession: false },
  remote: { scaleViewport: false, resizeSession: true },
};

// The graphical console in `target`. `connect(path)` opens a new session, ending the old one
// silently.
export function openScreen(target, emit) {
  let session = null;
  let attempt = 0;
  let scaling = 'fit';
  let typing = null;
  const rfb = () => session?.rfb ?? null;

  function applyScaling() {
    if (session) Object.assign(session.rfb, SCALING[scaling] ?? SCALING.fit);
  }

  function stop() {
    attempt += 1;
    if (typing) typing.cancelled = true;
    typing = null;
    session?.end();
    session = null;
  }

  async function connect(path) {
    stop();
    const mine = attempt;
    let RFB;
    try {
      ({ default: RFB } = await loadRfb());
    } catch (error) {
      if (mine === attempt) emit('library', 0, String(error));
      return;
    }
    // Another connect or a disconnect came while the library loaded.
    if (mine !== attempt) return;
    session = vncSession(RFB, target, path, emit);
    applyScaling();
  }

  function sendChord(keys) {
    const r = rfb();
    if (!r) return;
    for (const [keysym, code] of keys) r.sendKey(keysym, code, true);
    for (const [keysym, code] of [...keys].reverse()) r.sendKey(keysym, code, false);
    r.focus();
  }

  return {
    ready() { return loadRfb().then(() => undefined); },
    connect(path) { connect(path); },
    disconnect() { stop(); },
    setScaling(mode) { scaling = mode; applyScaling(); },
    sendCtrlAltDel() { rfb()?.sendCtrlAltDel(); rfb()?.focus(); },
    sendCtrlAltFn(n) {
      sendChord([[XK_CONTROL_L, 'ControlLeft'], [XK_ALT_L, 'AltLeft'], [XK_F1 + n - 1, `F${n}`]]);
    },
    // Types `text` key by key; `done(typed)` gets the number of characters typed (fewer than
    // asked if the session ended or another text was started meanwhile).
    typeText(text, done) {
      if (typing) typing.cancelled = true;
      const job = { cancelled: false };
      typing = job;
      (async () => {
        let typed = 0;
        try {
          const { default: keysyms } = await import('/novnc/core/input/keysymdef.js');
          for (const char of text) {
            const r = rfb();
            if (job.cancelled || !r) break;
            if (char !== '\r') {
              const keysym = char === '\n' ? XK_RETURN
                : char === '\t' ? XK_TAB
                  : keysyms.lookup(char.codePointAt(0));
              const shift = SHIFTED.test(char);
              if (shift) r.sendKey(XK_SHIFT_L, 'ShiftLeft', true);
              r.sendKey(keysym, null);
              if (shift) r.sendKey(XK_SHIFT_L, 'ShiftLeft', false);
              await new Promise((resolve) => setTimeout(resolve, TYPING_PAUSE_MS));
            }
            typed += 1;
          }
        } finally {
          if (typing === job) typing = null;
          done(typed);
        }
      })();
    },
    focus() { rfb()?.focus(); },
    destroy() { stop(); },
  };
}

let xtermLoaded = null;
function loadXterm() {
  if (!xtermLoaded) {
    if (!document.querySelector(`link[href="${XTERM_CSS}"]`)) {
      const css = document.createElement('link');
      css.rel = 'stylesheet';
      css.href = XTERM_CSS;
      document.head.append(css);
    }
    xtermLoaded = Promise.all([import(XTERM), import(XTERM_FIT)]);
    xtermLoaded.catch(() => { xtermLoaded = null; });
  }
  return xtermLoaded;
}

// The most the terminal sends in one message (the server refuses messages over 64 KiB).
const SEND_CHUNK = 16 * 1024;

// What the serial port sent, for "Save log": the last MiB.
const LOG_LIMIT = 1024 * 1024;

// The serial console in `target`: one terminal for the page's lifetime (its scrollback survives a
// reconnect), and one WebSocket per `connect(path)`.
export function openSerial(target, emit) {
  let term = null;
  let fit = null;
  let connection = null;
  let resize = null;
  const log = [];
  let logSize = 0;
  let destroyed = false;
  const encoder = new TextEncoder();

  async function terminal() {
    if (term) return term;
    const [{ Terminal }, { FitAddon }] = await loadXterm();
    if (destroyed) throw new Error('the console page was left');
    if (term) return term;
    term = new Terminal({ convertEol: false, cursorBlink: true, scrollback: 5000, fontSize: 14 });
    fit = new FitAddon();
    term.loadAddon(fit);
    term.open(target);
    fit.fit();
    resize = new ResizeObserver(() => {
      // Hidden (another tab): nothing to fit to.
      if (target.clientWidth > 0 && target.clientHeight > 0) fit.fit();
    });
    resize.observe(target);
    term.onData((data) => {
      const socket = connection?.socket;
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      // A paste arrives as one string: sent in pieces the server takes (64 KiB a message).
      const bytes = encoder.encode(data);
      for (let at = 0; at < bytes.length; at += SEND_CHUNK) socket.send(bytes.subarray(at, at + SEND_CHUNK));
    });
    return term;
  }

  function record(bytes) {
    log.push(bytes);
    logSize += bytes.length;
    while (logSize > LOG_LIMIT && log.length > 1) logSize -= log.shift().length;
  }

  let attempt = 0;
  function stop() {
    attempt += 1;
    connection?.drop();
    connection = null;
  }

  async function connect(path) {
    stop();
    const mine = attempt;
    try {
      await terminal();
    } catch (error) {
      if (mine === attempt) emit('library', 0, String(error));
      return;
    }
    if (mine !== attempt) return;
    connection = openSocket(path, emit, {
      binary: (event) => {
        const bytes = new Uint8Array(event.data);
        record(bytes);
        term.write(bytes);
      },
    });
  }

  return {
    ready() { return terminal().then(() => undefined); },
    connect(path) { connect(path); },
    disconnect() { stop(); },
    focus() { term?.focus(); },
    fit() { if (fit && target.clientWidth > 0) fit.fit(); },
    // Downloads what the serial port sent (the last MiB) as `filename`.
    saveLog(filename) {
      const url = URL.createObjectURL(new Blob(log, { type: 'text/plain' }));
      const link = document.createElement('a');
      link.href = url;
      link.download = filename;
      link.hidden = true;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 0);
    },
    destroy() {
      destroyed = true;
      stop();
      resize?.disconnect();
      term?.dispose();
      term = null;
    },
  };
}

// The page's WASM waits for this module script's `load` event and then finds the API here.
window.limenConsole = { openScreen, openSerial };
