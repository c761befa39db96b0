// A form generated from a thing model service's inputData: a field per parameter with its type,
// range, enum values or struct members, checked by the server's own validation (the form sends
// what it has; the API's refusal names the field, and the error is shown next to it).
import { h } from './lib.js';

let counter = 0;

function hintOf(t) {
    const parts = [t.type];
    if (t.min !== undefined || t.max !== undefined) parts.push(`${t.min ?? '−∞'} … ${t.max ?? '∞'}`);
    if (t.step !== undefined) parts.push(`step ${t.step}`);
    if (t.length !== undefined) parts.push(`at most ${t.length} characters`);
    if (t.size !== undefined) parts.push(`at most ${t.size} items, as JSON`);
    if (t.type === 'array' && t.size === undefined) parts.push('as JSON');
    if (t.type === 'date') parts.push('Unix time in ms');
    return parts.join(', ');
}

/** One field for parameter `p` at `path` (`Args.x`, `Args.s.y`); returns {el, read()}, where
 *  read() gives the value's JSON text (undefined when left empty): a float or double typed as a
 *  whole number is sent as 150.0, the form of a TSL double. */
function field(p, path) {
    const id = `f${++counter}`;
    const errId = `${id}-error`;
    const error = h('p', { class: 'error field-error', id: errId, 'data-error-for': path });
    const hint = h('span', { class: 'hint', id: `${id}-hint` }, hintOf(p));
    const described = `${id}-hint ${errId}`;
    if (p.type === 'struct') {
        const members = (p.members ?? []).map((m) => field(m, `${path}.${m.identifier}`));
        return {
            el: h('fieldset', { 'data-path': path }, h('legend', {}, p.identifier), error, members.map((m) => m.el)),
            read() { return objectText(members, p.members); },
        };
    }
    let input;
    if (p.type === 'bool' || p.type === 'enum') {
        input = h('select', { id, 'aria-describedby': described },
            h('option', { value: '' }, '(not sent)'), (p.values ?? []).map((v) => h('option', { value: v }, v)));
    } else if (p.type === 'array') {
        input = h('textarea', { id, 'aria-describedby': described, placeholder: '[]' });
    } else {
        const numeric = ['int', 'float', 'double'].includes(p.type);
        input = h('input', {
            id, 'aria-describedby': described, type: numeric ? 'number' : 'text', inputmode: numeric ? 'decimal' : undefined,
            step: numeric ? (p.step ?? (p.type === 'int' ? 1 : 'any')) : undefined,
            maxlength: p.type === 'text' ? p.length : undefined,
        });
    }
    input.dataset.path = path;
    return {
        el: h('div', { class: 'field' }, h('label', { for: id }, p.identifier), h('div', {}, input), hint, error),
        read() {
            const v = input.value.trim();
            if (v === '') return undefined;
            if (p.type === 'float' || p.type === 'double') {
                const n = Number(v);
                return Number.isFinite(n) && Number.isInteger(n) ? n.toFixed(1) : Number.isFinite(n) ? String(n) : JSON.stringify(v);
            }
            if (['int', 'bool', 'enum'].includes(p.type)) return Number.isFinite(Number(v)) ? String(Number(v)) : JSON.stringify(v);
            if (p.type === 'array') {
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

/** The fields of `service` in `container`; returns {read(): the Args JSON text, showError(message): bool}. */
export function serviceForm(container, service) {
    const fields = service.input.map((p) => field(p, `Args.${p.identifier}`));
    container.replaceChildren(...fields.map((f) => f.el));
    if (!service.input.length)
        container.append(h('p', { class: 'hint' },
            service.inputNames?.length ? `Reads ${service.inputNames.join(', ')}; no input.` : 'No input.'));
    return {
        read() { return objectText(fields, service.input); },
        clear() { for (const e of container.querySelectorAll('.field-error')) e.textContent = ''; },
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
