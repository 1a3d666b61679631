// Open editor.html in jsdom (no browser needed), load a workspace into its Blockly, and print
// what the page shows as Python: proves the page, its toolbox and its offline media work.
//   node tools/blockly/check_editor.js workspace.json   -> JSON {errors, blocks, toolbox, code}
'use strict';
const fs = require('fs');
const path = require('path');
const {JSDOM, VirtualConsole} = require('jsdom');

const DIR = __dirname;
const ROOT = path.resolve(DIR, '..', '..');
const state = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const errors = [];
const vc = new VirtualConsole();
vc.on('jsdomError', (e) => errors.push(String(e.message || e)));
vc.on('error', (e) => errors.push(String(e)));
vc.on('warn', (e) => errors.push('warn: ' + String(e)));

const dom = new JSDOM(fs.readFileSync(path.join(DIR, 'editor.html'), 'utf8'), {
  url: 'file://' + DIR + '/editor.html', runScripts: 'dangerously', resources: 'usable',
  pretendToBeVisual: true, virtualConsole: vc,
  beforeParse(window) {
    // jsdom has no fetch: serve files under the repository, refuse the network (the page must work offline)
    window.fetch = async (url) => {
      if (/^[a-z]+:/i.test(url)) throw new Error('the page fetched from the network: ' + url);
      const file = path.resolve(DIR, url);
      if (!file.startsWith(ROOT)) throw new Error('outside the repository: ' + url);
      const data = fs.readFileSync(file);
      return {ok: true, json: async () => JSON.parse(data.toString('utf8')), text: async () => data.toString('utf8'),
        arrayBuffer: async () => data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)};
    };
  },
});

// Wait (up to 60 s, a loaded machine is slow) for a condition, polling every 100 ms.
function waitFor(cond, what, then) {
  const t0 = Date.now();
  const tick = () => {
    let ok = false;
    try { ok = cond(); } catch (e) { ok = false; }
    if (ok) return then();
    if (Date.now() - t0 > 60000) {
      errors.push('timed out waiting for ' + what);
      return report();
    }
    setTimeout(tick, 100);
  };
  tick();
}

const out = {errors};
function report() {
  const w = dom.window;
  out.status = w.document.getElementById('status').textContent;
  out.code = w.document.getElementById('code').textContent;
  process.stdout.write(JSON.stringify(out) + '\n');
  process.exit(0);
}

dom.window.addEventListener('load', () => {
  const w = dom.window;
  // the page is ready when its workspace has a toolbox (or it showed an error)
  waitFor(() => w.document.getElementById('status').textContent ||
                (w.Blockly.getMainWorkspace() && w.Blockly.getMainWorkspace().getToolbox()), 'the editor', () => {
    if (w.document.getElementById('status').textContent) return report();
    try {
      const ws = w.Blockly.getMainWorkspace();
      out.toolbox = ws.getToolbox().getToolboxItems().length;
      w.Blockly.serialization.workspaces.load(state, ws);
      out.blocks = ws.getAllBlocks(false).length;
    } catch (e) {
      errors.push(String(e.message || e));
      return report();
    }
    // the page's change listener fires after Blockly's event queue
    waitFor(() => w.document.getElementById('code').textContent.includes('robot'), 'the code', report);
  });
});
