// The thing model as the platform's console shows it, from the cloud action QueryThingModel
// (names, descriptions, ranges, units, enum and bool labels), and forms generated from it: a
// field per parameter, checked by the server's own validation (the form sends what it has; the
// API's refusal names the field, and the error is shown next to it).
import { action, h } from './lib.js';

let counter = 0;

/** A product's thing model: {properties, services, events}, each service and event with its
 *  `input`/`output` parameters, identifiers of custom modules as `module:identifier`; null when
 *  the action refuses (no such product). */
export async function thingModel(productKey) {
    const read = async (block) => {
        const res = await action('QueryThingModel', block ? { ProductKey: productKey, FunctionBlockId: block } : { ProductKey: productKey });
        return res.data?.Success === true ? JSON.parse(res.data.Data.ThingModelJson) : null;
    };
    const root = await read('');
    if (root === null) return null;
    const model = { properties: [], services: [], events: [] };
    const add = (doc, block) => {
        const id = (x) => ({ ...x, identifier: block ? `${block}:${x.identifier}` : x.identifier });
        const params = (list) => (list ?? []).filter((p) => typeof p === 'object');
        model.properties.push(...(doc.properties ?? []).map(id));
        model.services.push(...(doc.services ?? []).map((s) => ({
            ...id(s), input: params(s.inputData), output: params(s.outputData),
            inputNames: (s.inputData ?? []).filter((p) => typeof p === 'string') })));
        model.events.push(...(doc.events ?? []).map((e) => ({ ...id(e), output: params(e.outputData) })));
    };
    add(root, '');
    for (const b of root.functionBlocks ?? []) {
        const doc = await read(b.functionBlockId);
        if (doc) add(doc, b.functionBlockId);
    }
    return model;
}

/** A TSL dataType as a reader wants it: `double, 0 … 200, step 0.5, °C`, `enum: 0 = eco, 1 = boost`. */
export function typeText(dt) {
    if (!dt) return 'any value';
    const s = dt.specs ?? {};
    switch (dt.type) {
        case 'int': case 'float': case 'double': {
            const parts = [dt.type];
            if (s.min !== undefined || s.max !== undefined) parts.push(`${s.min ?? '−∞'} … ${s.max ?? '∞'}`);
            if (s.step !== undefined) parts.push(`step ${s.step}`);
            if (s.unit) parts.push(s.unitName && s.unitName !== s.unit ? `${s.unitName} (${s.unit})` : s.unit);
            return parts.join(', ');
        }
        case 'text': return s.length !== undefined ? `text, at most ${s.length} characters` : 'text';
        case 'bool': case 'enum': return `${dt.type}: ${Object.entries(s).map(([v, l]) => `${v} = ${l}`).join(', ')}`;
        case 'date': return 'date (UTC, in ms)';
        case 'struct': return `struct of ${(Array.isArray(s) ? s : []).map((m) => m.identifier).join(', ')}`;
        case 'array': return `array of at most ${s.size ?? '?'} × ${typeText(s.item)}, as JSON`;
        default: return dt.type ?? 'any value';
    }
}

/** One field for parameter `p` ({identifier, name, desc, dataType}) at `path` (`Args.x`,
 *  `Args.s.y`); returns {el, read()}, where read() gives the value's JSON text (undefined when
 *  left empty): a float or double typed as a whole number is sent as 150.0, the form of a TSL
 *  double; a date as its UTC milliseconds in a string. */
function field(p, path, onInput) {
    const id = `f${++counter}`;
    const errId = `${id}-error`;
    const dt = p.dataType ?? {};
    const specs = dt.specs ?? {};
    const error = h('p', { class: 'error field-error', id: errId, 'data-error-for': path });
    const hint = h('span', { class: 'hint', id: `${id}-hint` }, typeText(dt), p.desc ? ` · ${p.desc}` : '');
    const described = `${id}-hint ${errId}`;
    const title = p.name && p.name !== p.identifier ? [p.name, ' ', h('code', {}, p.identifier)] : [h('code', {}, p.identifier)];
    if (dt.type === 'struct') {
        const members = (Array.isArray(specs) ? specs : []).map((m) => field(m, `${path}.${m.identifier}`, onInput));
        return {
            el: h('fieldset', { 'data-path': path }, h('legend', {}, ...title), hint, error, members.map((m) => m.el)),
            read() { return objectText(members, specs); },
        };
    }
    let input;
    if (dt.type === 'bool' || dt.type === 'enum') {
        input = h('select', { id, 'aria-describedby': described },
            h('option', { value: '' }, '(not sent)'),
            Object.entries(specs).map(([v, label]) => h('option', { value: v }, `${v} — ${label}`)));
    } else if (dt.type === 'array') {
        input = h('textarea', { id, 'aria-describedby': described, placeholder: '[]' });
    } else if (dt.type === 'date') {
        input = h('input', { id, 'aria-describedby': described, type: 'datetime-local', step: '0.001' });
    } else {
        const numeric = ['int', 'float', 'double'].includes(dt.type);
        input = h('input', {
            id, 'aria-describedby': described, type: numeric ? 'number' : 'text', inputmode: numeric ? 'decimal' : undefined,
            min: numeric ? specs.min : undefined, max: numeric ? specs.max : undefined,
            step: numeric ? (specs.step ?? (dt.type === 'int' ? 1 : 'any')) : undefined,
            maxlength: dt.type === 'text' ? specs.length : undefined,
        });
    }
    input.dataset.path = path;
    input.addEventListener('input', onInput);
    return {
        el: h('div', { class: 'field' }, h('label', { for: id }, ...title,
            specs.unit && dt.type !== 'struct' ? h('span', { class: 'unit' }, ` (${specs.unit})`) : null), h('div', {}, input), hint, error),
        read() {
            const v = input.value.trim();
            if (v === '') return undefined;
            if (dt.type === 'date') {
                const ms = new Date(v).getTime();  // the picker's local time
                return JSON.stringify(Number.isFinite(ms) ? String(ms) : v);
            }
            if (dt.type === 'float' || dt.type === 'double') {
                const n = Number(v);
                return Number.isFinite(n) && Number.isInteger(n) ? n.toFixed(1) : Number.isFinite(n) ? String(n) : JSON.stringify(v);
            }
            if (['int', 'bool', 'enum'].includes(dt.type)) return Number.isFinite(Number(v)) ? String(Number(v)) : JSON.stringify(v);
            if (dt.type === 'array') {
                try { JSON.parse(v); return v; } catch { return JSON.stringify(v); }  // the server says what is wrong
            }
            return JSON.stringify(input.value);
        },
    };
}

function objectText(fields, params) {
    const parts = [];
    for (const [i, f] of fields.entries()) {
        const v = f.read();
        if (v !== undefined) parts.push(`${JSON.stringify(params[i].identifier)}:${v}`);
    }
    return `{${parts.join(',')}}`;
}

/** Fields for `params` in `container`; returns {read(): the JSON object's text, clear(),
 *  showError(message): bool}. `onInput` runs at each change (the raw JSON editor follows). */
export function paramsForm(container, params, { names = [], onInput = () => {} } = {}) {
    const fields = params.map((p) => field(p, `Args.${p.identifier}`, onInput));
    container.replaceChildren(...fields.map((f) => f.el));
    if (!params.length)
        container.append(h('p', { class: 'hint' }, names.length ? `Reads ${names.join(', ')}; no input.` : 'No input.'));
    return {
        read() { return objectText(fields, params); },
        clear() {
            for (const e of container.querySelectorAll('.field-error')) e.textContent = '';
            for (const e of container.querySelectorAll('[aria-invalid]')) e.removeAttribute('aria-invalid');
        },
        /** Puts an API message `Args.x.y: …` next to its field; false when it names none here. */
        showError(message) {
            const m = /^(Args(?:\.[^:\s[]+|\[\d+\])*)(?:\[\d+\])?:\s*(.*)$/.exec(message ?? '');
            if (!m) return false;
            let path = m[1];
            for (;;) {
                const target = container.querySelector(`[data-error-for="${CSS.escape(path)}"]`);
                if (target) {
                    target.textContent = m[2];
                    const input = container.querySelector(`[data-path="${CSS.escape(path)}"]`);
                    input?.setAttribute('aria-invalid', 'true');
                    (input?.matches('input, select, textarea') ? input : input?.querySelector('input, select, textarea'))?.focus();
                    return true;
                }
                const cut = Math.max(path.lastIndexOf('.'), path.lastIndexOf('['));
                if (cut <= 4) return false;
                path = path.slice(0, cut);
            }
        },
    };
}
